"""The facade: one object to enrol, identify, compare and manage people.

The SQLite database is the system of record (it stores every embedding); the FAISS file
beside it is a derived cache stamped with a generation number, rebuilt whenever it is
missing or does not match the database.
"""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .config import EMBED_BATCH, index_path_for
from .images import sha256_file
from .index import IndexFileError, VectorIndex, resolve_kind
from .pipeline import Embedded, Embedder, sharpness
from .store import (Identity, IndexMeta, Photo, all_embeddings, open_store, people_counts, to_blob)
from .types import FileError, Match, QueryResult


class GalleryError(Exception):
    """A refusal the user can act on (wrong encoder, empty gallery, ...)."""


@dataclass
class EnrollReport:
    added: int = 0
    skipped: int = 0
    removed: int = 0
    no_face: int = 0
    errors: list[FileError] = field(default_factory=list)


class Gallery:
    """A face database at ``db_path`` (created and migrated on open).

    ``encoder``: what embeds photos; if omitted it is rebuilt lazily from the DB's record.
    ``detector``: 'mtcnn' or 'none'; defaults to the one the DB was built with.
    """

    def __init__(self, db_path: str | Path, encoder=None, detector: str | None = None,
                 on_wait: Callable[[str], None] | None = None):
        self.db_path = Path(db_path)
        self.on_wait = on_wait  # told when another writer holds the lock
        self.search_params: dict = {}  # per-call overrides: nprobe, ef_search
        self.index_path = index_path_for(self.db_path)
        self.engine = open_store(self.db_path)
        self._encoder = None
        self._detector = detector
        self._index: VectorIndex | None = None
        with Session(self.engine) as s:
            self.meta = s.get(IndexMeta, 1)
        if encoder is not None:
            self.use_encoder(encoder)

    def use_encoder(self, encoder) -> None:
        """Set the encoder; refused if the index was built with a different one."""
        if self.meta is not None:
            self._check_encoder(encoder)
        self._encoder = encoder

    # -- encoder -------------------------------------------------------------------------
    def _check_encoder(self, encoder) -> None:
        want, got = self.meta, encoder.describe()
        if got["model_checksum"] != want.model_checksum or got["embedding_dim"] != want.embedding_dim:
            raise GalleryError(
                f"{self.db_path} was built with encoder {want.encoder} (dim {want.embedding_dim}, "
                f"checksum {want.model_checksum[:12]}), not {got['encoder']} (dim {got['embedding_dim']}, "
                f"checksum {got['model_checksum'][:12]}). Query without --model to use the index's "
                "encoder, or build a new DB (--db) for this one.")

    @property
    def encoder(self):
        if self._encoder is None:
            if self.meta is None:
                raise GalleryError(f"{self.db_path} is empty: run `facesearch index` first")
            from .encoders import create_encoder

            ref = self.meta.model_ref
            self._encoder = create_encoder(ref["model"], ref.get("weights"), flip=self.meta.flip)
            self._check_encoder(self._encoder)
        return self._encoder

    @property
    def detector(self) -> str:
        return self._detector or (self.meta.detector if self.meta else "mtcnn")

    def embedder(self, require_face: bool = False) -> Embedder:
        return Embedder(self.encoder, self.detector, require_face)

    # -- index ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the DB's metadata; drop the in-memory index if a writer changed it."""
        with Session(self.engine) as s:
            meta = s.get(IndexMeta, 1)
        if meta is None or self.meta is None or meta.generation != self.meta.generation:
            self._index = None
        self.meta = meta

    @property
    def index(self) -> VectorIndex:
        """The FAISS index matching the DB; rebuilt in memory when the file is stale."""
        if self._index is None:
            if self.meta is None:
                raise GalleryError(f"{self.db_path} is empty: run `facesearch index` first")
            try:
                idx = VectorIndex.load(self.index_path)
                if (idx.generation != self.meta.generation or idx.dim != self.meta.embedding_dim
                        or self._wanted_kind(len(idx)) != idx.kind):
                    idx = None
            except IndexFileError:
                idx = None
            self._index = idx or self._rebuild()
        return self._index

    def _wanted_kind(self, n: int) -> str:
        return resolve_kind(self.meta.index_type, n) if n else "flat"

    def _rebuild(self) -> VectorIndex:
        with Session(self.engine) as s:
            ids, vecs = all_embeddings(s, self.meta.embedding_dim)
        return VectorIndex.build(self.meta.embedding_dim, ids, vecs, self.meta.generation,
                                 kind=self._wanted_kind(len(ids)), params=self.meta.index_params)

    def set_index_type(self, kind: str | None = None, **params) -> None:
        """Choose the FAISS index kind and its parameters (None values keep the stored ones)."""
        params = {k: v for k, v in params.items() if v is not None}
        with Session(self.engine) as s, s.begin():
            meta = s.get(IndexMeta, 1)
            meta.index_type = kind or meta.index_type
            meta.index_params = {**(meta.index_params or {}), **params} or None
        self.refresh()
        self._index = None

    def reindex(self) -> int:
        """Rebuild the index file from stored embeddings; returns the vector count."""
        with self.writing(rebuild=True) as index:
            return len(index)

    def check(self) -> list[str]:
        """Problems found between DB and index file (empty list = consistent)."""
        problems = []
        if self.meta is None:
            return problems
        try:
            idx = VectorIndex.load(self.index_path)
        except IndexFileError as e:
            return [str(e)]
        if idx.generation != self.meta.generation:
            problems.append(f"index generation {idx.generation} != database generation {self.meta.generation}")
        with Session(self.engine) as s:
            db_ids = set(s.scalars(select(Photo.id)))
        file_ids = set(idx.ids().tolist())
        if db_ids != file_ids:
            problems.append(f"{len(db_ids - file_ids)} photos missing from index, "
                            f"{len(file_ids - db_ids)} stale vectors in index")
        return problems

    @contextmanager
    def writing(self, rebuild: bool = False):
        """Exclusive writer section: file lock, generation bump first, index saved last.
        ``rebuild``: start from the stored embeddings instead of the index file.

        A crash anywhere inside leaves the file's generation behind the DB's, so the next
        open rebuilds the index from the DB instead of trusting a stale file.
        """
        lock_path = self.db_path.with_name(self.db_path.name + ".lock")
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if self.on_wait:
                    self.on_wait(f"another facesearch command is writing to {self.db_path}; waiting for it")
                fcntl.flock(lock, fcntl.LOCK_EX)
            with Session(self.engine) as s:  # re-read: another writer may have finished
                self.meta = s.get(IndexMeta, 1)
            self._index = None
            self.ensure_meta()
            index = self._index = self._rebuild() if rebuild else self.index
            with Session(self.engine) as s, s.begin():
                meta = s.get(IndexMeta, 1)
                meta.generation += 1
                generation = meta.generation
            self.meta.generation = generation
            index.generation = generation
            yield index
            if self._index is not index:  # replaced inside (a removal on hnsw)
                index = self._index
            if self._wanted_kind(len(index)) != index.kind:  # e.g. auto crossed AUTO_FLAT_MAX
                index = self._index = self._rebuild()
            index.save(self.index_path)

    def ensure_meta(self) -> None:
        """Record the encoder on first use of an empty DB."""
        if self.meta is None:
            self._init_meta()

    def _init_meta(self) -> None:
        d = self.encoder.describe()
        with Session(self.engine) as s, s.begin():
            s.add(IndexMeta(id=1, encoder=d["encoder"], embedding_dim=d["embedding_dim"],
                            preprocess=d["preprocess"], model_checksum=d["model_checksum"],
                            model_ref=self.encoder.model_ref, detector=self.detector, flip=d["flip"], generation=0))
        with Session(self.engine) as s:
            self.meta = s.get(IndexMeta, 1)

    # -- enrol ---------------------------------------------------------------------------
    def enroll(self, items: Iterable[tuple[str, Path]], prune_under: Path | None = None,
               require_face: bool = False, progress: Callable[[int], None] | None = None) -> EnrollReport:
        """Add ``(identity, photo)`` pairs; photos already stored (same identity, same bytes)
        are skipped. ``prune_under``: remove stored photos below that folder that are not in
        ``items`` any more, and identities left with no photo."""
        items = [(name, Path(p)) for name, p in items]
        report = EnrollReport()
        with self.writing() as index:
            todo = self._new_items(items, report, progress)
            if todo:  # no model load for a no-op run
                chunks = (todo[i:i + EMBED_BATCH] for i in range(0, len(todo), EMBED_BATCH))
                batches = self.embedder(require_face).batches([p for _, p, _ in todo], EMBED_BATCH)
                for chunk, results in zip(chunks, batches):
                    self._store_batch(chunk, results, index, report)
                    if progress:
                        progress(len(chunk))
            if prune_under is not None:
                report.removed = self._prune(items, Path(prune_under), index)
        return report

    def _new_items(self, items, report, progress):
        """Photos to embed, with their hash; already-stored ones are counted as skipped."""
        with Session(self.engine) as s:
            known = {(n, h) for n, h in s.execute(select(Identity.name, Photo.sha256).join(Identity))}
        todo, queued = [], set()
        for name, path in items:
            try:
                digest = sha256_file(path)
            except OSError as e:
                report.errors.append(FileError(str(path), e.strerror or str(e)))
                if progress:
                    progress(1)
                continue
            if (name, digest) in known:
                report.skipped += 1
                if progress:
                    progress(1)
            elif (name, digest) not in queued:  # the same bytes twice in one folder: once
                queued.add((name, digest))
                todo.append((name, path, digest))
            else:
                report.skipped += 1
        return todo

    def _store_batch(self, chunk, results, index: VectorIndex, report: EnrollReport) -> None:
        rows: list[tuple[Photo, np.ndarray]] = []
        with Session(self.engine) as s, s.begin():
            people = {}
            for (name, path, digest), res in zip(chunk, results):
                if isinstance(res, FileError):
                    report.errors.append(res)
                    continue
                assert isinstance(res, Embedded)
                if name not in people:
                    people[name] = (s.scalar(select(Identity).where(Identity.name == name))
                                    or Identity(name=name))
                face = res.face
                report.no_face += not face.detected
                photo = Photo(identity=people[name], path=str(path.resolve()), sha256=digest,
                              box=list(face.box) if face.box else None, det_score=face.score,
                              n_faces=face.n_faces, quality=sharpness(face.crop),
                              embedding=to_blob(res.vector))
                s.add(photo)
                rows.append((photo, res.vector))
            s.flush()
            ids = [p.id for p, _ in rows]
        if rows:
            index.add(ids, np.stack([v for _, v in rows]))
        report.added += len(rows)

    def _prune(self, items, root: Path, index: VectorIndex) -> int:
        prefix = str(root.resolve()) + "/"
        present = {str(p.resolve()) for _, p in items}
        with Session(self.engine) as s, s.begin():
            stale = [pid for pid, path in s.execute(select(Photo.id, Photo.path))
                     if path.startswith(prefix) and path not in present]
            if stale:
                s.execute(delete(Photo).where(Photo.id.in_(stale)))
            s.execute(delete(Identity).where(~Identity.photos.any()))
        self._remove_vectors(index, stale)
        return len(stale)

    def _remove_vectors(self, index: VectorIndex, ids: list[int]) -> None:
        if not ids:
            return
        if index.supports_remove:
            index.remove(ids)
        else:
            self._index = self._rebuild()

    # -- search --------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int) -> list[list[Match]]:
        """Top-k identities per query vector, one entry per identity (its best photo)."""
        index = self.index
        if self.search_params:
            index.set_search_params(**self.search_params)
        n = len(index)
        if n == 0:
            return [[] for _ in range(len(vectors))]
        fetch = min(n, max(4 * k, k + 16))
        while True:
            scores, ids = index.search(vectors, fetch)
            groups = self._group(scores, ids, k)
            if fetch >= n or all(len(g) >= k for g in groups):
                return groups
            fetch = min(n, fetch * 4)

    def _group(self, scores, ids, k) -> list[list[Match]]:
        wanted = {int(i) for i in np.unique(ids) if i >= 0}
        with Session(self.engine) as s:
            info = {pid: (name, path) for pid, name, path in s.execute(
                select(Photo.id, Identity.name, Photo.path).join(Identity).where(Photo.id.in_(wanted)))}
        out = []
        for row_s, row_i in zip(scores, ids):
            best: dict[str, Match] = {}
            for sc, pid in zip(row_s, row_i):
                if pid < 0 or int(pid) not in info:
                    continue
                name, path = info[int(pid)]
                if name not in best:  # rows are sorted by score: first hit is the best photo
                    best[name] = Match(name, float(sc), path)
                if len(best) == k:
                    break
            out.append(list(best.values()))
        return out

    def identify(self, paths: list[Path], k: int = 5, threshold: float | None = None,
                 progress: Callable[[int], None] | None = None) -> list[QueryResult | FileError]:
        """Who is in each photo? ``accepted`` compares the best score with ``threshold``
        (default: the calibrated one; None if never calibrated)."""
        self.refresh()
        if threshold is None and self.meta is not None:
            threshold = self.meta.threshold
        out: list[QueryResult | FileError] = []
        for results in self.embedder().batches(paths, EMBED_BATCH):
            good = [r for r in results if isinstance(r, Embedded)]
            matches = iter(self.search(np.array([r.vector for r in good]), k) if good else [])
            for r in results:
                if isinstance(r, FileError):
                    out.append(r)
                    continue
                m = next(matches)
                accepted = None if threshold is None else bool(m and m[0].score >= threshold)
                out.append(QueryResult(str(r.path), m, accepted, r.face))
            if progress:
                progress(len(results))
        return out

    def compare(self, a: Path, b: Path) -> float | FileError:
        return self.embedder().compare(a, b)

    # -- people --------------------------------------------------------------------------
    def people(self) -> list[tuple[str, int]]:
        with Session(self.engine) as s:
            return people_counts(s)

    def remove(self, name: str) -> int:
        """Delete an identity, its photos and their vectors; returns photos removed."""
        with self.writing() as index:
            with Session(self.engine) as s, s.begin():
                person = s.scalar(select(Identity).where(Identity.name == name))
                if person is None:
                    raise GalleryError(f"no identity named {name!r}")
                ids = [p.id for p in person.photos]
                s.delete(person)
            self._remove_vectors(index, ids)
        return len(ids)

    def rename(self, old: str, new: str) -> None:
        with Session(self.engine) as s, s.begin():
            person = s.scalar(select(Identity).where(Identity.name == old))
            if person is None:
                raise GalleryError(f"no identity named {old!r}")
            if s.scalar(select(Identity).where(Identity.name == new)) is not None:
                raise GalleryError(f"identity {new!r} already exists")
            person.name = new

    def set_threshold(self, value: float, info: dict) -> None:
        with Session(self.engine) as s, s.begin():
            meta = s.get(IndexMeta, 1)
            meta.threshold, meta.threshold_info = value, info
        self.meta.threshold, self.meta.threshold_info = value, info
