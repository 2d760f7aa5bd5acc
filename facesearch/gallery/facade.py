"""The facade: one object to enrol, identify, compare and manage people.

:class:`Gallery` composes the :class:`~.store.Store` (the database, system of record: it
keeps every embedding), a :class:`~.vectors.VectorStore` (FAISS file or Milvus collection,
derived, stamped with a generation, rebuilt whenever it does not match the database) and
an :class:`~facesearch.faces.pipeline.Embedder` (photos -> aligned faces -> vectors).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..config import EMBED_BATCH, is_database_url
from ..errors import GalleryError, NotFoundError
from ..faces.pipeline import Comparison, Embedded, Embedder, label
from ..types import AcceptRule, FileError, Match, QueryResult
from . import decision
from .attributes import Attributes
from .classifier import svc_search
from .compare import compare_photos
from .decision import Verdict, verify_photos
from .assignment import decide, load_vetoes
from .index import VectorIndex
from .embedding_cache import embed_cached
from .enrolment import EnrollReport, Enrolment, check_quality_gate, valid_name
from .store import GalleryMeta, Store
from .vectors import open_vectors, parse_vectors
from .uploads import UploadReport, embed_all, owners, store_uploads
from .writes import under_writer_lock

Progress = Callable[[int], None] | None


def _create_encoder(model: str | None, weights: str | None, flip: bool):
    from ..encoders import create_encoder  # here: ONNX Runtime loads only in commands that embed

    return create_encoder(model, weights, flip=flip)


class Gallery:
    """A face database at ``db_path``: a SQLite file or a server URL (created and migrated on open).

    ``encoder``: what embeds photos; if omitted it is rebuilt lazily from the DB's card.
    ``detector``: 'mtcnn' or 'none'; a DB keeps the one it was built with (another is refused).
    ``vectors``: the vector store of a new database (``faiss`` or ``milvus:<uri>``); an
    existing database keeps its own unless :meth:`set_vectors` moves it.
    """

    def __init__(self, db_path: str | Path, encoder=None, detector: str | None = None,
                 on_wait: Callable[[str], None] | None = None, create: bool = True, vectors: str | None = None):
        self.search_params: dict = {}  # per-call overrides: nprobe, ef_search
        self.store = Store(db_path, create)
        self.db_path = self.store.db_path if self.store.db_path is not None else str(db_path)
        self.meta: GalleryMeta | None = self.store.meta()
        self._vectors = vectors and parse_vectors(vectors)  # for a new database
        self.sync = open_vectors(self.store, self.meta.vectors if self.meta else self._vectors or "faiss", on_wait)
        self._encoder = None
        self._attributes: Attributes | None = None
        self._embedders: dict[bool, Embedder] = {}  # by require_face; models loaded once
        self._identities: tuple | None = None  # ((database id, generation), identity count)
        if detector is not None and self.meta is not None and detector != self.meta.detector:
            raise GalleryError(f"{self.store.label} was built with --detector {self.meta.detector}; "
                               "use a new --db to change it")
        self._detector = detector
        if encoder is not None:
            self.use_encoder(encoder)

    @classmethod
    def open(cls, db_path: str | Path, model: str | None = None, weights: str | None = None,
             detector: str | None = None, flip: bool = True, create: bool = False,
             on_wait: Callable[[str], None] | None = None, vectors: str | None = None) -> "Gallery":
        """The gallery at ``db_path`` with the encoder named by ``model``/``weights`` (default:
        the DB's own). ``create``: a missing DB is created (with the default model if none).
        ``vectors``: the vector store (``faiss``, ``milvus:<uri>``); a database that has another
        moves its vectors there (rebuilt from the database)."""
        if (str(db_path).strip() and not create and not is_database_url(db_path)
                and not Path(db_path).exists()):
            raise GalleryError(f"no database at {db_path}: run `facesearch index <gallery>` first (or pass --db)")
        vectors = parse_vectors(vectors) if vectors else None  # refused before a database is made
        encoder = _create_encoder(model, weights, flip) if model else None  # a bad model creates no file
        gallery = cls(db_path, detector=detector, on_wait=on_wait, create=create, vectors=vectors)
        if vectors and gallery.meta is not None and gallery.meta.vectors != vectors:
            gallery.set_vectors(vectors)
        if not flip and gallery.meta is not None and gallery.meta.card.flip:
            raise GalleryError(f"{db_path} was built with flip-averaged embeddings; --no-flip only applies "
                               "to a new database (--db)")
        if encoder is None and create and gallery.meta is None:
            encoder = _create_encoder(None, None, flip)
        if encoder is not None:
            gallery.use_encoder(encoder)
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
                f"{self.store.label} was built with encoder {want}; this is {got}. Query without --model "
                "to use the database's encoder, or build a new database (--db) for this one.")

    @property
    def encoder(self):
        if self._encoder is None:
            meta = self._require_meta()
            self._encoder = _create_encoder(meta.card.model, meta.card.weights, meta.card.flip)
            self._check_encoder(self._encoder)
        return self._encoder

    @property
    def detector(self) -> str:
        return self._detector or (self.meta.detector if self.meta else "mtcnn")

    def embedder(self, require_face: bool = False) -> Embedder:
        """The photo -> embedding pipeline (made once: its detector loads once)."""
        e = self._embedders.get(require_face)
        if e is None or e.encoder is not self.encoder:
            e = self._embedders[require_face] = Embedder(self.encoder, self.detector, require_face)
        return e

    def warm_up(self) -> None:
        """For a long-lived process (the server): load the models, on the fast runtime, and
        the index now instead of on the first request."""
        self.embedder().warm_up()
        self.refresh()
        if self.meta is not None:
            self.sync.current(self.meta)

    def twin(self) -> "Gallery":
        """Another Gallery on this database sharing the encoder and detector, with its own
        index: a server writes through it while readers keep searching this one's index
        (which reloads once the write is saved, as after a write by another process)."""
        other = Gallery(self.db_path, detector=self._detector, on_wait=self.sync.on_wait, vectors=self._vectors)
        if self._encoder is not None or self.meta is not None:
            other._encoder = self.encoder  # loaded now, once for both
        other._embedders = self._embedders
        return other

    def _require_meta(self) -> GalleryMeta:
        if self.meta is None:
            raise GalleryError(f"{self.store.label} is empty: run `facesearch index` first")
        return self.meta

    def ensure_meta(self) -> GalleryMeta:
        """Record the encoder card and detector on first use of an empty DB."""
        if self.meta is None:
            self.meta = self.store.create_meta(self.encoder.card, self.detector, self._vectors or "faiss")
        return self.meta

    @under_writer_lock
    def set_vectors(self, spec: str) -> None:
        """Keep the vectors in another store (``faiss``, ``milvus:<uri>``): recorded in the
        database and filled from it by the next write (``index``, ``reindex``)."""
        self._vectors = spec = parse_vectors(spec)
        self.store.set_vectors(spec)
        self.refresh()
        self.sync = open_vectors(self.store, spec, self.sync.on_wait)

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

    @under_writer_lock
    def set_index_type(self, kind: str | None = None, **params) -> None:
        """Choose the FAISS index kind and its parameters (None values keep the stored ones)."""
        self.ensure_meta()
        self.store.set_index_type(kind, {k: v for k, v in params.items() if v is not None})
        self.refresh()

    def reindex(self) -> int:
        """Rebuild the vector store (FAISS file, Milvus collection) from the stored embeddings;
        returns the vector count."""
        self._require_meta()
        with self._writing(rebuild=True) as (_, index):
            return len(index)

    def check(self) -> list[str]:
        """Problems of the database file, its stored vectors and the index file (empty list =
        all consistent)."""
        problems = self.store.integrity_problems()
        if problems or self.meta is None:
            return problems
        bad = self.store.bad_vectors(self.meta.card.embedding_dim)
        problems += [f"photo {pid}: stored embedding is damaged ({why})" for pid, why in sorted(bad.items())[:20]]
        if len(bad) > 20:
            problems.append(f"... {len(bad) - 20} more photos with damaged embeddings")
        return problems + self.sync.check(self.meta)

    # -- enrol ---------------------------------------------------------------------------
    def enroll(self, items: Iterable[tuple[str, Path]], prune_under: Path | None = None,
               require_face: bool = False, progress: Progress = None, report: EnrollReport | None = None,
               quality_gate: str = "warn", keep_under: Iterable[Path] = ()) -> EnrollReport:
        """Add ``(identity, photo)`` pairs; photos already stored (same identity, same bytes)
        are skipped, a stored path whose bytes changed is replaced, and the same bytes under
        another identity are refused. A folder's photos keep the name its identity was given
        by ``rename``. ``prune_under``: remove stored photos below that folder that are not in
        ``items`` any more (except below ``keep_under``: folders that could not be read), and
        identities left with no photo. ``report`` is filled as the
        work goes (batches are saved whole), so an interrupted caller can say what was saved.
        ``quality_gate``: photos whose face is unusable are listed in ``report.unusable`` and
        enrolled ("warn") or left out ("skip")."""
        report = report if report is not None else EnrollReport()
        with self._writing() as (meta, _):
            run = Enrolment(self.store, self.sync, meta, report, progress, quality_gate)
            run.run(run.named(items), lambda: self.embedder(require_face), prune_under, keep_under)
        return report

    # -- search --------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int) -> list[list[Match]]:
        """Top-k identities per query vector, one entry per identity (its best photo)."""
        if self.meta is None:  # nothing enrolled yet (a server started on a new database)
            return [[] for _ in range(len(vectors))]
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
                if pid < 0 or int(pid) not in info or not -1.001 <= sc <= 1.001:  # a damaged vector is no match
                    continue
                name, path = info[int(pid)]
                if name not in best:  # rows are sorted by score: first hit is the best photo
                    best[name] = Match(name, float(sc), path, photo_id=int(pid))
                if len(best) == k:
                    break
            out.append(list(best.values()))
        return out

    def identify(self, paths: list, k: int = 5, threshold: float | None = None, progress: Progress = None,
                 all_faces: bool = False, decider: str = "nn", attributes: bool = False
                 ) -> list[QueryResult | FileError]:
        """Who is in each photo (a path, bytes, or PIL image)? ``accepted`` compares the best
        score with ``threshold`` (default: the calibrated identification threshold; None if
        never calibrated); a face whose quality is unusable is never accepted. The answer is
        for the largest, most central face; ``all_faces``: ``faces`` also answers for every
        detected face, left to right. ``decider="svc"``: identities ranked by the fitted
        classifier (``classifier.py``; refused when missing or stale). ``attributes``: each
        face also gets its gender."""
        self.refresh()
        search = svc_search(self) if decider == "svc" else self.search
        decides = decision.decider_of(self, threshold, decider)
        warnings = decision.threshold_warnings(self, decides)
        vetoes = load_vetoes(self.store, self.meta) if decides is not None else {}  # corrections
        fetch = max(k, 2) if decides is not None and decides.rule.margin is not None else k  # margin: a runner-up
        out: list[QueryResult | FileError] = []
        for results in self.embedder().batches(paths, EMBED_BATCH, all_faces):
            good = [r for r in results if isinstance(r, Embedded)]
            vectors = [v for r in good for _, v in r.faces] if all_faces else [r.vector for r in good]
            matches = iter(search(np.array(vectors), fetch) if good else [])
            for r in results:
                if isinstance(r, FileError):
                    out.append(r)
                    continue
                pairs = r.faces or [(r.face, r.vector)]
                faces = decide(pairs, [m for _, m in zip(pairs, matches)], decides, k, vetoes)  # assignment.py
                if attributes:
                    self.attributes.label(faces, pairs, self.encoder.card)
                main = faces[r.main if all_faces else 0]
                out.append(QueryResult(label(r.path), main.matches, main.accepted, r.face, warnings,
                                       faces if all_faces else None, main.attributes, main.calibration,
                                       main.reason, main.rule))
            if progress:
                progress(len(results))
        return out

    def accept_rule(self, threshold: float | None = None, decider: str = "nn") -> AcceptRule | None:
        """``threshold`` as a score-only rule, else the deciding one (the user's calibration,
        else the model's shipped one; None: neither). A shipped rule is in cohort units:
        ``identify`` turns it into each face's cosine rule (``decision.py``)."""
        decides = decision.decider_of(self, threshold, decider)
        return None if decides is None else decides.rule

    @property
    def attributes(self) -> Attributes:
        """The shipped gender model (loaded on first use)."""
        if self._attributes is None:
            self._attributes = Attributes()
        return self._attributes

    def compare(self, a, b) -> Comparison | FileError:
        """Cosine similarity of the faces in two photos (paths, bytes or PIL images)."""
        return compare_photos(self.embedder(), a, b)

    def verify(self, a, b) -> Verdict | FileError:
        """Are the faces in two photos one person? The score and the decision of the
        verification calibration (the user's, else the model's shipped one)."""
        return verify_photos(self.embedder(), a, b, decision.verifier_of(self.meta, self.encoder.card))

    # -- labelled data (calibration, evaluation) ----------------------------------------------
    def embed_labelled(self, paths: list[Path], progress: Progress = None
                       ) -> tuple[dict[Path, tuple[np.ndarray, bool]], list[FileError]]:
        """``path -> (embedding, face usable)`` of labelled photos, cached in the DB by file
        hash and encoder (a damaged or pre-quality cache entry is embedded again)."""
        return embed_cached(self.store, self.embedder(), self.encoder.card, paths, progress, self.sync.locked)

    # -- people and thresholds -------------------------------------------------------------
    def people(self) -> list[tuple[str, int]]:
        return self.store.people()

    def remove(self, name: str) -> int:
        """Delete an identity, its photos and their vectors; returns photos removed."""
        if name not in dict(self.people()):  # refuse before the write starts
            raise NotFoundError(f"no identity named {name!r}")
        with self._writing() as (meta, _):
            ids = self.store.remove_identity(name)
            self.sync.remove(meta, ids)
        return len(ids)

    @under_writer_lock
    def rename(self, old: str, new: str) -> None:
        self.store.rename_identity(old, valid_name(new))

    def photos(self, name: str) -> list[dict]:
        """The stored photos of ``name`` (id, path, det_score, n_faces, quality, added)."""
        return self.store.photos_of(name)

    def enroll_photos(self, name: str, photos: list, quality_gate: str = "warn",
                      require_face: bool = False) -> UploadReport:
        """Enrol photos given in memory (bytes, PIL images; paths work too) as ``name``.
        All or nothing: a photo that cannot be used (ImageError) or whose bytes are enrolled
        as someone else (ConflictError) refuses the call before anything is written."""
        name = valid_name(name)
        check_quality_gate(quality_gate)
        results = embed_all(self.embedder(require_face), photos)  # outside the lock
        owners(self.store, name, results)  # refuse before the write starts
        with self._writing() as (meta, _):
            return store_uploads(self.store, self.sync, meta, name, results, quality_gate)

    def remove_photo(self, photo_id: int) -> str:
        """Delete one photo and its vector (and its identity, if no photo is left); returns
        the identity's name."""
        if not self.store.photo_info({int(photo_id)}):  # refuse before the write starts
            raise NotFoundError(f"no photo with id {photo_id}")
        with self._writing() as (meta, _):
            name = self.store.remove_photo(int(photo_id))
            self.sync.remove(meta, [int(photo_id)])
        return name

    @under_writer_lock
    def set_threshold(self, value: float, info: dict) -> None:
        """The identification threshold (``query``: FPIR for this gallery's size)."""
        self.store.set_threshold(value, info)
        self.refresh()

    @under_writer_lock
    def set_verify_threshold(self, value: float, info: dict) -> None:
        """The verification threshold (``compare``: false accepts per comparison)."""
        self.store.set_verify_threshold(value, info)
        self.refresh()

    @property
    def verify_threshold(self) -> float | None:
        """``compare``'s threshold (a first-release DB has only the one threshold)."""
        if self.meta is None:
            return None
        return self.meta.verify_threshold if self.meta.verify_threshold is not None else self.meta.threshold
