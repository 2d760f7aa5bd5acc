"""The facade: one object to enrol, identify, compare and manage people.

:class:`Gallery` composes the :class:`~.store.Store` (the database, system of record: it
keeps every embedding), a :class:`~.vectors.VectorStore` (FAISS file or Milvus collection,
derived, stamped with a generation, rebuilt whenever it does not match the database), its
:class:`~.models.Models` (encoder, detector, photos -> aligned faces -> vectors) and its
:class:`~.search.Search` (vectors -> who each face is, decided by a :mod:`.naming` strategy).
Enrolment runs are :mod:`.enrolment`; people admin (:mod:`.people`) and thresholds
(:mod:`.thresholds`) are parts of the class in their own modules.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..config import EMBED_BATCH, is_database_url
from ..errors import GalleryError
from ..faces.pipeline import Comparison, Embedder
from ..types import FileError, Match, QueryResult
from . import decision
from .attributes import Attributes
from .decision import Verdict, compare_photos, verify_photos
from .embedding_cache import embed_cached
from .enrolment import EnrollReport, Enrolment
from .index import VectorIndex
from .models import Models, create_encoder
from .people import People
from .search import Progress, Search
from .store import GalleryMeta, Store
from .thresholds import Thresholds
from .vectors import open_vectors, parse_vectors
from .writes import under_writer_lock


class Gallery(People, Thresholds):
    """A face database at ``db_path``: a SQLite file or a server URL (created and migrated on open).

    ``encoder``: what embeds photos; if omitted it is rebuilt lazily from the DB's card.
    ``detector``: 'mtcnn' or 'none'; a DB keeps the one it was built with (another is refused).
    ``vectors``: the vector store of a new database (``faiss`` or ``milvus:<uri>``); an
    existing database keeps its own unless :meth:`set_vectors` moves it.
    """

    def __init__(self, db_path: str | Path, encoder=None, detector: str | None = None,
                 on_wait: Callable[[str], None] | None = None, create: bool = True, vectors: str | None = None):
        self.store = Store(db_path, create)
        self.db_path = self.store.db_path if self.store.db_path is not None else str(db_path)
        self.meta: GalleryMeta | None = self.store.meta()
        self._vectors = vectors and parse_vectors(vectors)  # for a new database
        self.sync = open_vectors(self.store, self.meta.vectors if self.meta else self._vectors or "faiss", on_wait)
        if detector is not None and self.meta is not None and detector != self.meta.detector:
            raise GalleryError(f"{self.store.label} was built with --detector {self.meta.detector}; "
                               "use a new --db to change it")
        self.models = Models(self, detector)
        self.search_params: dict = {}  # nprobe / ef_search passed with each search (query --nprobe)
        self.searcher = Search(self)
        self._identities: tuple[tuple, int] | None = None  # ((database id, generation), count)
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
        encoder = create_encoder(model, weights, flip) if model else None  # a bad model creates no file
        gallery = cls(db_path, detector=detector, on_wait=on_wait, create=create, vectors=vectors)
        if vectors and gallery.meta is not None and gallery.meta.vectors != vectors:
            gallery.set_vectors(vectors)
        if not flip and gallery.meta is not None and gallery.meta.card.flip:
            raise GalleryError(f"{db_path} was built with flip-averaged embeddings; --no-flip only applies "
                               "to a new database (--db)")
        if encoder is None and create and gallery.meta is None:
            encoder = create_encoder(None, None, flip)
        if encoder is not None:
            gallery.use_encoder(encoder)
        return gallery

    # -- models (models.py) ----------------------------------------------------------------
    def use_encoder(self, encoder) -> None:
        """Set the encoder; refused if the index was built with a different one."""
        self.models.use(encoder)

    @property
    def encoder(self):
        """The encoder (the database's own, loaded on first use, unless one was given)."""
        return self.models.encoder

    @property
    def detector(self) -> str:
        """The face detector, ``mtcnn`` or ``none`` (the database's, unless one was given)."""
        return self.models.detector

    def embedder(self, require_face: bool = False) -> Embedder:
        """The photo -> embedding pipeline (made once: its detector loads once)."""
        return self.models.embedder(require_face)

    @property
    def attributes(self) -> Attributes:
        """The shipped gender model (loaded on first use)."""
        return self.models.attributes

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
        other = Gallery(self.db_path, detector=self.models.chosen_detector, on_wait=self.sync.on_wait,
                        vectors=self._vectors)
        self.models.share_with(other.models)  # the encoder loaded now, once for both
        return other

    # -- database and vectors --------------------------------------------------------------
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

    def refresh(self) -> None:
        """Re-read the settings: another process may have written since we opened."""
        self.meta = self.store.meta()

    def identity_count(self) -> int:
        """Identities enrolled, counted once per generation (every write that adds or removes
        one advances it): the shipped rule asks on every query."""
        key = (self._require_meta().database_id, self.meta.generation)
        if self._identities is None or self._identities[0] != key:
            self._identities = (key, self.store.identity_count())
        return self._identities[1]

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

    # -- enrol (enrolment.py; photos in memory: people.py) -------------------------------------------------------
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

    # -- search (search.py, naming.py, decision.py) --------------------------------------------
    def search(self, vectors: np.ndarray, k: int) -> list[list[Match]]:
        """Top-k identities per query vector, one entry per identity (its best photo)."""
        return self.searcher.nearest(vectors, k)

    def identify(self, paths: list, k: int | Sequence[int] = 5, threshold: float | None = None,
                 progress: Progress = None, all_faces: bool = False, decider: str = "nn",
                 attributes: bool = False) -> list[QueryResult | FileError]:
        """Who is in each photo (a path, bytes, or PIL image)? ``accepted`` compares the best
        score with ``threshold`` (default: the calibrated identification threshold; None if
        never calibrated); a face whose quality is unusable is never accepted. The answer is
        for the largest, most central face; ``all_faces``: ``faces`` also answers for every
        detected face, left to right. ``decider="svc"``: identities ranked by the fitted
        classifier (``classifier.py``; refused when missing or stale). ``attributes``: each
        face also gets its gender. ``k``: identities for every photo, or a list (one per photo)."""
        if not isinstance(k, (int, np.integer)) and len(k) != len(paths):
            raise ValueError(f"k has {len(k)} values for {len(paths)} photos")
        self.refresh()
        naming = self.searcher.naming(threshold, decider)  # chosen once for the call

        def describe(faces, pairs):
            self.attributes.label(faces, pairs, self.encoder.card)

        batches = self.embedder().batches(paths, EMBED_BATCH, all_faces)
        return self.searcher.identify(batches, k, naming, all_faces, describe if attributes else None, progress)

    def compare(self, a, b) -> Comparison | FileError:
        """Cosine similarity of the faces in two photos (paths, bytes or PIL images)."""
        return compare_photos(self.embedder(), a, b)

    def verify(self, a, b) -> Verdict | FileError:
        """Are the faces in two photos one person? The score and the decision of the
        verification calibration (the user's, else the model's shipped one)."""
        return verify_photos(self.embedder(), a, b, decision.verifier_of(self.meta, self.encoder.card))

    def embed_labelled(self, paths: list[Path], progress: Progress = None
                       ) -> tuple[dict[Path, tuple[np.ndarray, bool]], list[FileError]]:
        """``path -> (embedding, face usable)`` of labelled photos (calibration, evaluation), cached
        in the DB by file hash and encoder (a damaged or pre-quality cache entry is embedded again)."""
        return embed_cached(self.store, self.embedder(), self.encoder.card, paths, progress, self.sync.locked)
