"""The facade: one object to enrol, identify, compare and manage people.

:class:`Gallery` composes the :class:`~.store.Store` (the database, system of record: it
keeps every embedding), the :class:`~.sync.IndexSync` (the FAISS file, a derived cache
stamped with a generation, rebuilt whenever it does not match the database) and an
:class:`~facesearch.faces.pipeline.Embedder` (photos -> aligned faces -> vectors).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..config import EMBED_BATCH, index_path_for
from ..errors import GalleryError
from ..faces.pipeline import Embedded, Embedder, sharpness
from ..files import sha256_file
from ..types import FileError, Match, QueryResult
from .index import VectorIndex
from .store import GalleryMeta, NewPhoto, Store
from .sync import IndexSync

Progress = Callable[[int], None] | None


@dataclass
class EnrollReport:
    added: int = 0
    skipped: int = 0
    removed: int = 0
    no_face: int = 0
    errors: list[FileError] = field(default_factory=list)


def compare_photos(embedder: Embedder, a: Path, b: Path) -> float | FileError:
    """Cosine similarity of the faces in two photos, or the first file's error."""
    ra, rb = embedder.run([Path(a), Path(b)])
    for r in (ra, rb):
        if isinstance(r, FileError):
            return r
    return float(np.dot(ra.vector, rb.vector))


class Gallery:
    """A face database at ``db_path`` (created and migrated on open).

    ``encoder``: what embeds photos; if omitted it is rebuilt lazily from the DB's card.
    ``detector``: 'mtcnn' or 'none'; a DB keeps the one it was built with (another is refused).
    """

    def __init__(self, db_path: str | Path, encoder=None, detector: str | None = None,
                 on_wait: Callable[[str], None] | None = None):
        self.db_path = Path(db_path)
        self.search_params: dict = {}  # per-call overrides: nprobe, ef_search
        self.index_path = index_path_for(self.db_path)
        self.store = Store(self.db_path)
        self.sync = IndexSync(self.store, self.index_path, on_wait)
        self.meta: GalleryMeta | None = self.store.meta()
        self._encoder = None
        if detector is not None and self.meta is not None and detector != self.meta.detector:
            raise GalleryError(f"{self.db_path} was built with --detector {self.meta.detector}; "
                               "use a new --db to change it")
        self._detector = detector
        if encoder is not None:
            self.use_encoder(encoder)

    @classmethod
    def open(cls, db_path: str | Path, model: str | None = None, weights: str | None = None,
             detector: str | None = None, flip: bool = True, create: bool = False,
             on_wait: Callable[[str], None] | None = None) -> "Gallery":
        """The gallery at ``db_path`` with the encoder named by ``model``/``weights`` (default:
        the DB's own). ``create``: a missing DB is created (with the default model if none)."""
        if not create and not Path(db_path).exists():
            raise GalleryError(f"no database at {db_path}: run `facesearch index <gallery>` first (or pass --db)")
        gallery = cls(db_path, detector=detector, on_wait=on_wait)
        if model or (create and gallery.meta is None):
            from ..encoders import create_encoder  # local: pulls torch

            gallery.use_encoder(create_encoder(model, weights, flip=flip))
        return gallery

    # -- encoder -------------------------------------------------------------------------
    def use_encoder(self, encoder) -> None:
        """Set the encoder; refused if the index was built with a different one."""
        if self.meta is not None:
            self._check_encoder(encoder)
        self._encoder = encoder

    def _check_encoder(self, encoder) -> None:
        want, got = self.meta.card, encoder.card
        if not want.same_embeddings(got):
            raise GalleryError(
                f"{self.db_path} was built with encoder {want}, not {got}. Query without --model to "
                "use the index's encoder, or build a new DB (--db) for this one.")

    @property
    def encoder(self):
        if self._encoder is None:
            meta = self._require_meta()
            from ..encoders import create_encoder  # local: pulls torch

            self._encoder = create_encoder(meta.card.model, meta.card.weights, flip=meta.card.flip)
            self._check_encoder(self._encoder)
        return self._encoder

    @property
    def detector(self) -> str:
        return self._detector or (self.meta.detector if self.meta else "mtcnn")

    def embedder(self, require_face: bool = False) -> Embedder:
        return Embedder(self.encoder, self.detector, require_face)

    def _require_meta(self) -> GalleryMeta:
        if self.meta is None:
            raise GalleryError(f"{self.db_path} is empty: run `facesearch index` first")
        return self.meta

    def ensure_meta(self) -> GalleryMeta:
        """Record the encoder card and detector on first use of an empty DB."""
        if self.meta is None:
            self.meta = self.store.create_meta(self.encoder.card, self.detector)
        return self.meta

    # -- index ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the settings: another process may have written since we opened."""
        self.meta = self.store.meta()

    @property
    def index(self) -> VectorIndex:
        """The FAISS index matching the DB; rebuilt in memory when the file is stale."""
        return self.sync.current(self._require_meta())

    def _writing(self, rebuild: bool = False):
        def prepare() -> GalleryMeta:
            self.refresh()
            return self.ensure_meta()

        return self.sync.writing(prepare, rebuild)

    def set_index_type(self, kind: str | None = None, **params) -> None:
        """Choose the FAISS index kind and its parameters (None values keep the stored ones)."""
        self.ensure_meta()
        self.store.set_index_type(kind, {k: v for k, v in params.items() if v is not None})
        self.refresh()

    def reindex(self) -> int:
        """Rebuild the index file from stored embeddings; returns the vector count."""
        self._require_meta()
        with self._writing(rebuild=True) as (_, index):
            return len(index)

    def check(self) -> list[str]:
        """Problems found between DB and index file (empty list = consistent)."""
        return [] if self.meta is None else self.sync.check(self.meta)

    # -- enrol ---------------------------------------------------------------------------
    def enroll(self, items: Iterable[tuple[str, Path]], prune_under: Path | None = None,
               require_face: bool = False, progress: Progress = None) -> EnrollReport:
        """Add ``(identity, photo)`` pairs; photos already stored (same identity, same bytes)
        are skipped. ``prune_under``: remove stored photos below that folder that are not in
        ``items`` any more, and identities left with no photo."""
        items = [(name, Path(p)) for name, p in items]
        report = EnrollReport()
        with self._writing() as (meta, index):
            todo = self._new_items(items, report, progress)
            if todo:  # no model load for a no-op run
                chunks = (todo[i:i + EMBED_BATCH] for i in range(0, len(todo), EMBED_BATCH))
                batches = self.embedder(require_face).batches([p for _, p, _ in todo], EMBED_BATCH)
                for chunk, results in zip(chunks, batches):
                    self._store_batch(chunk, results, report)
                    if progress:
                        progress(len(chunk))
            if prune_under is not None:
                prefix = str(Path(prune_under).resolve()) + "/"
                stale = self.store.prune(prefix, {str(p.resolve()) for _, p in items})
                self.sync.remove(meta, stale)
                report.removed = len(stale)
        return report

    def _new_items(self, items, report: EnrollReport, progress: Progress):
        """Photos to embed, with their hash; already-stored ones are counted as skipped."""
        known = self.store.known_photos()
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

    def _store_batch(self, chunk, results, report: EnrollReport) -> None:
        photos = []
        for (name, path, digest), res in zip(chunk, results):
            if isinstance(res, FileError):
                report.errors.append(res)
                continue
            face = res.face
            report.no_face += not face.detected
            photos.append(NewPhoto(name, str(path.resolve()), digest, list(face.box) if face.box else None,
                                   face.score, face.n_faces, sharpness(face.crop), res.vector))
        if photos:
            ids = self.store.add_photos(photos)
            self.sync.index.add(ids, np.stack([p.vector for p in photos]))
        report.added += len(photos)

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
        info = self.store.photo_info({int(i) for i in np.unique(ids) if i >= 0})
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
                 progress: Progress = None) -> list[QueryResult | FileError]:
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
        return compare_photos(self.embedder(), a, b)

    # -- labelled data (calibration, evaluation) ----------------------------------------------
    def embed_labelled(self, paths: list[Path], progress: Progress = None
                       ) -> tuple[dict[Path, np.ndarray], list[FileError]]:
        """Embeddings of labelled photos, cached in the DB by file hash and encoder."""
        checksum, errors, hashes = self.encoder.card.checksum, [], {}
        for p in paths:
            try:
                hashes[p] = sha256_file(p)
            except OSError as e:
                errors.append(FileError(str(p), e.strerror or str(e)))
        dim = self.encoder.embedding_dim
        cached = {h: np.frombuffer(b, np.float32, dim) for h, b in self.store.cached_embeddings(checksum).items()}
        todo = [p for p in hashes if hashes[p] not in cached]
        if progress:
            progress(len(paths) - len(todo))
        fresh = {}
        for r in self.embedder().run(todo):
            if isinstance(r, Embedded):
                fresh[hashes[r.path]] = (r.vector, r.face.detected)
            else:
                errors.append(r)
            if progress:
                progress(1)
        if fresh:
            self.store.cache_embeddings(checksum, fresh)
        vectors = {**cached, **{h: v for h, (v, _) in fresh.items()}}
        return {p: vectors[h] for p, h in hashes.items() if h in vectors}, errors

    # -- people and thresholds -------------------------------------------------------------
    def people(self) -> list[tuple[str, int]]:
        return self.store.people()

    def remove(self, name: str) -> int:
        """Delete an identity, its photos and their vectors; returns photos removed."""
        if name not in dict(self.people()):  # refuse before the write starts
            raise GalleryError(f"no identity named {name!r}")
        with self._writing() as (meta, _):
            ids = self.store.remove_identity(name)
            self.sync.remove(meta, ids)
        return len(ids)

    def rename(self, old: str, new: str) -> None:
        self.store.rename_identity(old, new)

    def set_threshold(self, value: float, info: dict) -> None:
        self.store.set_threshold(value, info)
        self.refresh()
