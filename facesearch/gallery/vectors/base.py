"""The generation protocol every vector store follows, whatever holds the vectors.

Protocol of a write (:meth:`VectorStore.writing`): take the database's writer lock, bump
the database's generation *first*, change rows and vectors, save the vectors stamped with
that generation *last*. A crash anywhere in between leaves the store's stamp behind the
database's, so the next reader rebuilds the vectors from the stored embeddings instead of
trusting a stale copy. Readers take no lock. The SQL database stays the system of record:
every embedding is in it, and any vector store can be rebuilt from it.

A store keeps an *index*: an object with ``add(ids, vectors)``, ``remove(ids)``,
``search(queries, k, params)``, ``ids()``, ``vectors()``, ``len()``, ``set_search_params(**p)``, ``kind``,
``generation``, ``database_id`` and ``supports_remove`` (:class:`~..index.VectorIndex`
for FAISS, :class:`.milvus.MilvusIndex` for Milvus).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import numpy as np

from ...errors import IndexFileError, StoreError
from ..index import VectorIndex, resolve_kind
from ..instance import id_problem
from ..locks import writer_lock
from ..store import GalleryMeta, Store


def wanted_kind(meta: GalleryMeta, n: int) -> str:
    return resolve_kind(meta.index_type, n) if n else "flat"


def changed_vectors(db_ids: np.ndarray, db_vectors: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> int:
    """How many photos' stored vectors differ from their embeddings in the database (two
    swapped vectors are two)."""
    row = {int(pid): i for i, pid in enumerate(ids)}
    pairs = [(i, row[int(pid)]) for i, pid in enumerate(db_ids) if int(pid) in row]
    if not pairs:
        return 0
    ours, theirs = (list(x) for x in zip(*pairs))
    return int((np.abs(db_vectors[ours] - np.asarray(vectors, np.float32)[theirs]).max(axis=1) > 1e-4).sum())


def memory_index(store: Store, meta: GalleryMeta) -> VectorIndex:
    """A FAISS index of every stored embedding, in the kind ``meta`` asks for."""
    ids, vectors = store.embeddings(meta.card.embedding_dim)
    index = VectorIndex.build(meta.card.embedding_dim, ids, vectors, meta.generation,
                              kind=wanted_kind(meta, len(ids)), params=meta.index_params)
    index.database_id, index.owner = meta.database_id, store.instance
    return index


class VectorStore:
    """Owns the index of one database; subclasses say where it is kept (hooks below)."""

    def __init__(self, store: Store, on_wait: Callable[[str], None] | None = None):
        self.store = store
        self.lock = writer_lock(store)
        self.on_wait = on_wait  # told when another writer holds the lock
        self.index = None
        self.settled = False  # whether ``index`` is final for its generation (see current)

    # -- hooks ---------------------------------------------------------------------------
    def load_current(self, meta: GalleryMeta):
        """The stored index if it is this database's at ``meta``'s generation, else None."""
        raise NotImplementedError

    def rebuild(self, meta: GalleryMeta):
        """An index of every stored embedding, in the kind ``meta`` asks for."""
        raise NotImplementedError

    def interim(self, meta: GalleryMeta):
        """What a reader with no index searches while a writer is at work."""
        return self.rebuild(meta)

    def save(self, meta: GalleryMeta, index, by_reader: bool = False) -> None:
        """Make ``index`` the stored one, stamped with ``meta.generation`` (``by_reader``: a
        reader rebuilt it after a writer died)."""
        raise NotImplementedError

    def stored(self, meta: GalleryMeta):
        """(stored index, its generation stamp), or (None, what is wrong), for :meth:`check`."""
        raise NotImplementedError

    shared = True  # kept where a copy of the database (same id) finds them too: see claim()

    def owner(self, meta: GalleryMeta) -> str | None:
        """The :attr:`Store.instance` that wrote the stored vectors ("" if they do not say;
        None if there are none)."""
        raise NotImplementedError

    name = "index"  # how messages call the stored vectors

    @property
    def where(self) -> str:
        """Where the vectors are kept, for messages."""
        raise NotImplementedError

    # -- the protocol --------------------------------------------------------------------
    def current(self, meta: GalleryMeta):
        """The index matching ``meta``: the stored one if it is current, else rebuilt.

        A store behind the database means a writer is at work (or died). A long-lived reader
        (the server) must not keep an index rebuilt from half a write as if it were final:
        with the writer's lock free, the rebuild is final (``settled``); while a writer holds
        it, the last index this process had keeps serving (or an interim one) and the store
        is looked at again on the next call."""
        idx = self.index
        if idx is not None and (idx.generation, idx.database_id) == (meta.generation, meta.database_id) \
                and self.settled:
            return idx
        fresh = self.load_current(meta)
        if fresh is not None:
            self.index, self.settled = fresh, True
            return fresh
        with self._try_lock() as free:
            if free and self.claim(meta, by_reader=True):
                self.index, self.settled = self.rebuild(meta), True
                self.save(meta, self.index, by_reader=True)
            elif free:  # a read-only copy cannot get its own vectors: it searches its own embeddings
                self.index, self.settled = memory_index(self.store, meta), True
            elif idx is None:
                self.index, self.settled = self.interim(meta), False
            else:
                self.settled = False
        return self.index

    @contextmanager
    def _try_lock(self):
        """Yields whether no writer holds the lock (held meanwhile, so none starts)."""
        if not self.lock.possible:
            yield True
            return
        if not self.lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            self.lock.release()

    def remove(self, meta: GalleryMeta, ids: list[int]) -> None:
        """Drop vectors inside :meth:`writing` (HNSW graphs cannot: they are rebuilt)."""
        if not ids:
            return
        if self.index.supports_remove:
            self.index.remove(ids)
        else:
            self.index = self.rebuild(meta)

    def foreign(self, meta: GalleryMeta) -> bool:
        """Whether the vectors named by this database's id were written by another database
        (a copy of this one, or the original of this copy)."""
        if not self.shared:  # kept beside the file: each copy has its own
            return False
        owner = self.owner(meta)
        return bool(owner) and owner != self.store.instance

    def clash(self) -> str:
        return (f"{self.where} belongs to another database with this one's id ({self.store.label} is a copy of it, "
                "or it of this one)")

    def claim(self, meta: GalleryMeta, by_reader: bool = False) -> bool:
        """Before vectors are (re)built: make ``meta``'s id name this database's vectors alone.
        An id edited by hand, or vectors of another database with the same id (a copy), get
        this database a new id, so its vectors are built apart (the other's stay as they
        are). False where that is needed and the database is read-only (``by_reader``)."""
        if id_problem(meta.database_id):
            why = f"the id stored in {self.store.label} is not valid"
        elif self.foreign(meta):
            why = self.clash()
        else:
            return True
        try:
            meta.database_id, meta.vectors_generation = self.store.new_database_id(), None
        except StoreError:
            if by_reader:
                return False
            raise
        if self.on_wait:
            self.on_wait(f"{why}: {self.store.label} now has an id of its own, and its vectors are rebuilt from its "
                         "stored embeddings")
        return True

    def check(self, meta: GalleryMeta) -> list[str]:
        """Problems between the database and the stored vectors (empty list = consistent)."""
        if why := id_problem(meta.database_id):
            return [why]
        if self.foreign(meta):
            return [f"{self.clash()}: this database never uses them; `facesearch reindex` gives it its own"]
        idx, stamp = self.stored(meta)
        if idx is None:
            return [stamp]
        problems = []
        if idx.dim != meta.card.embedding_dim:
            problems.append(f"{self.name} dimension {idx.dim} != encoder dimension {meta.card.embedding_dim}")
        if stamp != meta.generation:
            problems.append(f"{self.name} generation {stamp} != database generation {meta.generation}")
        db_ids, db_vectors = self.store.embeddings(meta.card.embedding_dim)
        ids, vectors = idx.vectors()
        in_db, stored = set(db_ids.tolist()), set(ids.tolist())
        if in_db != stored:
            problems.append(f"{len(in_db - stored)} photos missing from {self.where}, "
                            f"{len(stored - in_db)} stale vectors in {self.where}")
        changed = changed_vectors(db_ids, db_vectors, ids, vectors)
        if changed:
            problems.append(f"{changed} vectors in {self.where} differ from the embeddings stored for their photos")
        return problems

    @contextmanager
    def locked(self):
        """The writer lock (waited for, and said so): every write to the database holds it,
        also one that leaves the vectors as they are (a rename, thresholds, settings). Where
        the folder cannot be written, nobody can write: the write itself says read-only."""
        self.store.follow()  # a file replaced under a long-lived process: the new one is written
        if not self.lock.possible:
            yield
            return
        if not self.lock.acquire(blocking=False):
            if self.on_wait:
                self.on_wait(f"another facesearch command is writing to {self.store.label}; waiting for it")
            self.lock.acquire()
        try:
            yield
            self.store.check_unchanged()  # never report done a write that went to a replaced file
        finally:
            self.lock.release()

    @contextmanager
    def writing(self, prepare: Callable[[], GalleryMeta], rebuild: bool = False):
        """Exclusive writer section yielding ``(meta, index)``. ``prepare`` runs under the
        lock and returns the settings as they are now (another writer may have just
        finished); ``rebuild`` starts from the stored embeddings instead of the store."""
        with self.locked():
            meta = prepare()
            self.claim(meta)
            self.index = None
            index = self.index = self.rebuild(meta) if rebuild else self.current_locked(meta)
            meta.generation = index.generation = self.store.bump_generation()
            self.settled = False
            yield meta, index
            index = self.index  # replaced inside by a rebuild (a removal on hnsw)
            if wanted_kind(meta, len(index)) != index.kind:  # e.g. auto crossed AUTO_FLAT_MAX
                index = self.index = self.rebuild(meta)
            index.database_id, index.owner = meta.database_id, self.store.instance
            self.save(meta, index)
            self.settled = True

    def current_locked(self, meta: GalleryMeta):
        """:meth:`current` for the lock holder: a stale store is rebuilt."""
        return self.load_current(meta) or self.rebuild(meta)


def save_failed(where: str, err: OSError) -> IndexFileError:
    """The error for vectors that could not be saved while the database is complete."""
    return IndexFileError(
        f"could not write the index file {where} ({err.strerror or err}); the database is intact and the "
        "index is rebuilt from it when needed: run `facesearch reindex` once this is fixed")
