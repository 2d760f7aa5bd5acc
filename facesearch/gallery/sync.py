"""Keeping the FAISS file in step with the database: one writer at a time, generations.

Protocol of a write (:meth:`IndexSync.writing`): take the file lock beside the database,
bump the database's generation *first*, change rows and vectors, save the index file
(stamped with that generation) *last*. A crash anywhere in between leaves the file's
generation behind the database's, so the next reader rebuilds the index from the stored
embeddings instead of trusting a stale file. Readers take no lock: SQLite's WAL lets them
read while a writer works, and an index file is replaced atomically.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from ..errors import IndexFileError
from .index import VectorIndex, resolve_kind
from .store import GalleryMeta, Store


def wanted_kind(meta: GalleryMeta, n: int) -> str:
    return resolve_kind(meta.index_type, n) if n else "flat"


def belongs(idx: VectorIndex, meta: GalleryMeta) -> bool:
    """Whether an index file was written for this database (files of the first release
    carry no database id and are trusted by their generation)."""
    return idx.database_id is None or idx.database_id == meta.database_id


class IndexSync:
    """Owns the in-memory index of one database and its file at ``index_path``."""

    def __init__(self, store: Store, index_path: Path, on_wait: Callable[[str], None] | None = None):
        self.store = store
        self.index_path = Path(index_path)
        self.lock_path = store.db_path.with_name(store.db_path.name + ".lock")
        self.on_wait = on_wait  # told when another writer holds the lock
        self.index: VectorIndex | None = None
        self.settled = False  # whether ``index`` is final for its generation (see current)

    def current(self, meta: GalleryMeta) -> VectorIndex:
        """The index matching ``meta``: the file if it is current, else rebuilt in memory.

        A file behind the database means a writer is at work (or died). A long-lived reader
        (the server) must not keep an index rebuilt from half a write as if it were final:
        with the writer's lock free, the rebuild is final (``settled``); while a writer holds
        it, the last index this process had keeps serving (or one is rebuilt from the
        batches committed so far) and the file is looked at again on the next call."""
        idx = self.index
        if idx is not None and idx.generation == meta.generation and self.settled:
            return idx
        fresh = self._load_current(meta)
        if fresh is not None:
            self.index, self.settled = fresh, True
            return fresh
        with self._try_lock() as free:
            if free or idx is None:
                self.index, self.settled = self.rebuild(meta), free
            else:
                self.settled = False
        return self.index

    def _load_current(self, meta: GalleryMeta) -> VectorIndex | None:
        """The index file, if it is this database's at ``meta``'s generation (header first:
        a lagging file is not read whole)."""
        try:
            if VectorIndex.peek(self.index_path).get("generation") != meta.generation:
                return None
            idx = VectorIndex.load(self.index_path)
        except IndexFileError:
            return None
        if (not belongs(idx, meta) or idx.generation != meta.generation
                or idx.dim != meta.card.embedding_dim or wanted_kind(meta, len(idx)) != idx.kind):
            return None
        return idx

    @contextmanager
    def _try_lock(self):
        """Yields whether no writer holds the lock (held meanwhile, so none starts); a folder
        nobody can write to has no writer."""
        if not os.access(self.lock_path.parent, os.W_OK):
            yield True
            return
        lock = FileLock(self.lock_path)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def rebuild(self, meta: GalleryMeta) -> VectorIndex:
        ids, vectors = self.store.embeddings(meta.card.embedding_dim)
        index = VectorIndex.build(meta.card.embedding_dim, ids, vectors, meta.generation,
                                  kind=wanted_kind(meta, len(ids)), params=meta.index_params)
        index.database_id = meta.database_id
        return index

    def remove(self, meta: GalleryMeta, ids: list[int]) -> None:
        """Drop vectors inside :meth:`writing` (HNSW graphs cannot: they are rebuilt)."""
        if not ids:
            return
        if self.index.supports_remove:
            self.index.remove(ids)
        else:
            self.index = self.rebuild(meta)

    def check(self, meta: GalleryMeta) -> list[str]:
        """Problems between the database and the index file (empty list = consistent)."""
        try:
            idx = VectorIndex.load(self.index_path)
        except IndexFileError as e:
            return [str(e)]
        if not belongs(idx, meta):
            return [f"index file {self.index_path} belongs to another database (id {idx.database_id}, "
                    f"this one is {meta.database_id})"]
        problems = []
        if idx.dim != meta.card.embedding_dim:
            problems.append(f"index dimension {idx.dim} != encoder dimension {meta.card.embedding_dim}")
        if idx.generation != meta.generation:
            problems.append(f"index generation {idx.generation} != database generation {meta.generation}")
        db_ids, file_ids = set(self.store.embeddings(meta.card.embedding_dim)[0].tolist()), set(idx.ids().tolist())
        if db_ids != file_ids:
            problems.append(f"{len(db_ids - file_ids)} photos missing from index, "
                            f"{len(file_ids - db_ids)} stale vectors in index")
        return problems

    @contextmanager
    def _lock(self):
        lock = FileLock(self.lock_path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if self.on_wait:
                self.on_wait(f"another facesearch command is writing to {self.store.db_path}; waiting for it")
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def writing(self, prepare: Callable[[], GalleryMeta], rebuild: bool = False):
        """Exclusive writer section yielding ``(meta, index)``. ``prepare`` runs under the
        lock and returns the settings as they are now (another writer may have just
        finished); ``rebuild`` starts from the stored embeddings instead of the file."""
        with self._lock():
            meta = prepare()
            self.index = None
            index = self.index = self.rebuild(meta) if rebuild else self.current(meta)
            meta.generation = index.generation = self.store.bump_generation()
            self.settled = False
            yield meta, index
            index = self.index  # replaced inside by a rebuild (a removal on hnsw)
            if wanted_kind(meta, len(index)) != index.kind:  # e.g. auto crossed AUTO_FLAT_MAX
                index = self.index = self.rebuild(meta)
            index.database_id = meta.database_id
            try:
                index.save(self.index_path)
                self.settled = True
            except OSError as e:  # the database is already complete: only the derived file is missing
                raise IndexFileError(
                    f"could not write the index file {self.index_path} ({e.strerror or e}); the database is "
                    "intact and the index is rebuilt from it when needed: run `facesearch reindex` once "
                    "this is fixed") from None
