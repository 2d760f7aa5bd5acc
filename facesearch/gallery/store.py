"""The store: every SQL statement facesearch runs, behind plain-Python methods.

The database is the system of record: identities, photos with their embeddings, the
encoder card, the index generation and settings, thresholds, and an embedding cache for
labelled data. Callers get numpy arrays, tuples and :class:`GalleryMeta`, never ORM rows.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from ..config import is_database_url
from ..errors import ConflictError, NotFoundError, StoreError
from ..types import EncoderCard, FaceQuality, Preprocess
from .database import open_engine
from .audit import record
from .library_schema import rename_references
from .instance import FollowsFile, id_problem, server_instance
from .postgres import shown
from .schema import CachedEmbedding, Identity, IndexMeta, PersonFolder, Photo

META_ID = 1  # index_meta holds one row


@dataclass
class GalleryMeta:
    """The gallery's settings row, detached from the database."""

    card: EncoderCard
    detector: str
    generation: int
    index_type: str
    index_params: dict | None
    threshold: float | None
    threshold_info: dict | None
    database_id: str | None = None
    verify_threshold: float | None = None  # for `compare`; `threshold` is for `query`
    verify_info: dict | None = None
    vectors: str = "faiss"  # the vector store: faiss | milvus:<uri>
    vectors_generation: int | None = None  # generation a Milvus collection was last saved at

    @property
    def key(self) -> str:
        """The database id, validated, to name files and collections with (it is read from
        the database, which may have been edited: ``../x`` must not name a path)."""
        if why := id_problem(self.database_id):
            raise StoreError(why)
        return self.database_id


@dataclass
class NewPhoto:
    identity: str
    folder: str | None  # the person folder it was found in, remembered for its identity
    path: str
    sha256: str
    box: list | None
    det_score: float | None
    n_faces: int
    quality: FaceQuality | None
    vector: np.ndarray


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: list[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


def vector_problem(blob, dim: int) -> str | None:
    """What is wrong with a stored embedding (size, finiteness, unit norm), or None."""
    if not isinstance(blob, bytes) or len(blob) != 4 * dim:
        return f"{len(blob) if isinstance(blob, bytes) else 'no'} bytes, expected {4 * dim}"
    v = np.frombuffer(blob, np.float32).astype(np.float64)
    if not np.isfinite(v).all():
        return "not finite"
    if abs(float(np.linalg.norm(v)) - 1) > 1e-3:
        return f"norm {float(np.linalg.norm(v)):.4g}, expected 1"
    return None


def _quality_record(q: FaceQuality | None) -> dict | None:
    return None if q is None else {**q.as_dict(), "measures": q.measures}


def _row(s: Session) -> IndexMeta | None:
    return s.get(IndexMeta, META_ID)


def _card(m: IndexMeta) -> EncoderCard:
    ref = m.model_ref or {}
    return EncoderCard(arch=m.encoder, model=ref.get("model", m.encoder), weights=ref.get("weights"),
                       checksum=m.model_checksum, preprocess=Preprocess.from_dict(m.preprocess),
                       embedding_dim=m.embedding_dim, flip=m.flip)


def _meta(m: IndexMeta | None) -> GalleryMeta | None:
    if m is None:
        return None
    return GalleryMeta(_card(m), m.detector, m.generation, m.index_type, m.index_params, m.threshold,
                       m.threshold_info, m.database_id, m.verify_threshold, m.verify_info, m.vectors or "faiss",
                       m.vectors_generation)


# Read on every search: built once (building and hashing a statement costs as much as running it)
READ_META = select(IndexMeta.__table__).where(IndexMeta.id == META_ID)
READ_PHOTO_INFO = (select(Photo.id, Identity.name, Photo.path).join(Identity)
                   .where(Photo.id.in_(bindparam("ids", expanding=True))))


class Store(FollowsFile):
    """One database (migrated to Alembic's head on open; ``create``: a new file may be made):
    a SQLite file path, or a server URL (``postgresql://...``)."""

    def __init__(self, db_path: str | Path, create: bool = True):
        self.engine = open_engine(db_path, create)  # first: it refuses an empty path
        self.is_server = is_database_url(db_path)
        self.db_path = None if self.is_server else Path(db_path)  # the file; None for a server
        self.label = shown(self.engine.url) if self.is_server else str(db_path)  # for messages: no password
        self._inode = None if self.is_server else os.stat(db_path).st_ino  # the file opened
        self._instance = None if self._inode is None else f"file:{self._inode}"
        self._last: GalleryMeta | None = None  # the settings as last read (what a replacement must match)
        self._broken: str | None = None  # why this file can no longer be used by this process

    @property
    def instance(self) -> str:
        """What tells this database from a copy of it, which carries the same id: the file's
        inode (a ``cp`` gets its own; ``mv`` and restoring a backup over it keep it), or the
        server's system identifier and the database's oid (``CREATE DATABASE ... TEMPLATE``
        and a dump restored elsewhere get their own). Vectors kept where copies could meet
        (a Milvus collection, a server database's FAISS file) record it."""
        if self._instance is None:
            self._instance = server_instance(self.engine)
        return self._instance

    def session(self) -> Session:
        return Session(self.engine)

    # -- settings ------------------------------------------------------------------------
    def meta(self) -> GalleryMeta | None:
        # Core, not an ORM session: read on every search (a server notices the CLI's writes
        # this way), where a session costs 2-3x as much as the query itself
        self.follow()
        with self.engine.connect() as c:
            self._last = _meta(c.execute(READ_META).first())
        return self._last

    def create_meta(self, card: EncoderCard, detector: str, vectors: str = "faiss") -> GalleryMeta:
        with self.session() as s, s.begin():
            if _row(s) is None:
                s.add(IndexMeta(id=META_ID, encoder=card.arch, embedding_dim=card.embedding_dim,
                                preprocess=card.preprocess.as_dict(), model_checksum=card.checksum,
                                model_ref={"model": card.model, "weights": card.weights}, detector=detector,
                                flip=card.flip, generation=0, database_id=uuid.uuid4().hex, vectors=vectors))
        return self.meta()

    def _update(self, audit: dict | None = None, **values) -> None:
        with self.session() as s, s.begin():
            m = _row(s)
            for k, v in values.items():
                setattr(m, k, v)
            if audit:
                record(s, **audit)

    def new_database_id(self) -> str:
        """Give the database a new id (a copy, or an id edited by hand): vectors, named by the
        id, are then rebuilt from the stored embeddings."""
        new = uuid.uuid4().hex
        self._update(database_id=new, vectors_generation=None)
        return new

    def bump_generation(self) -> int:
        """Advance the generation (first step of every write) and return it."""
        with self.session() as s, s.begin():
            m = _row(s)
            m.generation += 1
            return m.generation

    def set_index_type(self, kind: str | None, params: dict) -> None:
        meta = self.meta()
        kind, params = kind or meta.index_type, {**(meta.index_params or {}), **params}
        self._update(index_type=kind, index_params=params or None,
                     audit={"action": "index_type", "target": kind, **params})

    def set_vectors(self, spec: str) -> None:
        """Move the vectors to another store (rebuilt there from the rows on the next write).
        The audit row names the kind of store only: a URI may carry credentials."""
        self._update(vectors=spec, vectors_generation=None,
                     audit={"action": "vectors", "target": spec.split(":", 1)[0]})

    def set_vectors_generation(self, generation: int | None) -> None:
        """Stamp a Milvus collection as saved at ``generation`` (the last step of a write)."""
        self._update(vectors_generation=generation)

    def set_threshold(self, value: float, info: dict) -> None:
        """The identification threshold (``query``)."""
        self._update(threshold=value, threshold_info=info,
                     audit={"action": "calibrate", "target": "threshold", "value": value})

    def set_verify_threshold(self, value: float, info: dict) -> None:
        """The verification threshold (``compare``)."""
        self._update(verify_threshold=value, verify_info=info,
                     audit={"action": "calibrate", "target": "verify_threshold", "value": value})

    # -- photos --------------------------------------------------------------------------
    def embeddings(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, vectors) of every stored photo with a valid embedding, by id; damaged
        ones (see :meth:`bad_vectors`, reported by ``check``) are left out of any index."""
        with self.session() as s:
            rows = s.execute(select(Photo.id, Photo.embedding).order_by(Photo.id)).all()
        rows = [r for r in rows if isinstance(r[1], bytes) and len(r[1]) == 4 * dim]
        ids, vectors = np.array([r[0] for r in rows], np.int64), from_blobs([r[1] for r in rows], dim)
        with np.errstate(all="ignore"):
            ok = np.isfinite(vectors).all(axis=1) & (np.abs(np.linalg.norm(vectors, axis=1) - 1) <= 1e-3)
        return ids[ok], vectors[ok]

    def integrity_problems(self) -> list[str]:
        """SQLite's own integrity check of the file (empty list = ok); a server checks its own."""
        if self.engine.dialect.name != "sqlite":
            return []
        with self.engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check(20)")]
        return [] if rows == ["ok"] else [f"database: {r}" for r in rows]

    def bad_vectors(self, dim: int) -> dict[int, str]:
        """photo id -> what is wrong with its stored embedding (size, finiteness, norm)."""
        with self.session() as s:
            found = {pid: vector_problem(blob, dim) for pid, blob in s.execute(select(Photo.id, Photo.embedding))}
        return {pid: why for pid, why in found.items() if why}

    def add_photos(self, photos: list[NewPhoto]) -> tuple[list[int], list[int]]:
        """Insert photos (creating identities as needed, remembering their folders). A stored
        photo at the same path with other bytes is replaced. Returns (new ids, replaced ids)."""
        with self.session() as s, s.begin():
            people: dict[str, Identity] = {}
            paths = {p.path for p in photos}
            replaced = [pid for pid, path in s.execute(select(Photo.id, Photo.path).where(Photo.path.in_(paths)))]
            if replaced:
                s.execute(delete(Photo).where(Photo.id.in_(replaced)))
            rows = []
            for p in photos:
                if p.identity not in people:
                    people[p.identity] = (s.scalar(select(Identity).where(Identity.name == p.identity))
                                          or Identity(name=p.identity))
                    if p.folder and s.get(PersonFolder, p.folder) is None:
                        s.add(PersonFolder(path=p.folder, identity=people[p.identity]))
                row = Photo(identity=people[p.identity], path=p.path, sha256=p.sha256, box=p.box,
                            det_score=p.det_score, n_faces=p.n_faces,
                            quality=p.quality.score if p.quality else None,
                            quality_info=_quality_record(p.quality),
                            embedding=to_blob(p.vector))
                s.add(row)
                rows.append(row)
            s.flush()
            record(s, "enrol", next(iter(people)) if len(people) == 1 else f"{len(people)} identities",
                   photos=len(rows), replaced=len(replaced))
            return [r.id for r in rows], replaced

    def folder_identities(self) -> dict[str, str]:
        """person folder path -> the identity enrolled from it (renames included)."""
        with self.session() as s:
            return dict(s.execute(select(PersonFolder.path, Identity.name).join(Identity)).all())

    def photos_by_hash(self) -> dict[str, tuple[str, str]]:
        """sha256 -> (identity, path) of every stored photo (one of them, for duplicates)."""
        with self.session() as s:
            return {h: (n, p) for h, n, p in s.execute(select(Photo.sha256, Identity.name, Photo.path).join(Identity))}

    def prune(self, prefix: str, present: set[str], keep: tuple[str, ...] = ()) -> list[int]:
        """Delete photos whose path starts with ``prefix`` (but not with one of ``keep``) and
        is not in ``present``, then identities left without photos; returns the deleted ids."""
        with self.session() as s, s.begin():
            stale = [pid for pid, path in s.execute(select(Photo.id, Photo.path))
                     if path.startswith(prefix) and path not in present and not path.startswith(keep)]
            if stale:
                s.execute(delete(Photo).where(Photo.id.in_(stale)))
            s.execute(delete(Identity).where(~Identity.photos.any()))
            if stale:
                record(s, "prune", prefix, photos=len(stale))
        return stale

    def photo_info(self, ids) -> dict[int, tuple[str, str]]:
        """photo id -> (identity, path)."""
        with self.engine.connect() as c:  # Core: on every search, as meta()
            return {pid: (name, path) for pid, name, path in c.execute(READ_PHOTO_INFO, {"ids": list(ids)})}

    # -- people --------------------------------------------------------------------------
    def identity_count(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count(Identity.id))))

    def identity_names(self) -> tuple[tuple[int, str], ...]:
        """(identity id, name) of everyone, by id: what a rename changes."""
        with self.session() as s:
            return tuple((i, n) for i, n in s.execute(select(Identity.id, Identity.name).order_by(Identity.id)))

    def people(self) -> list[tuple[str, int]]:
        q = (select(Identity.name, func.count(Photo.id)).outerjoin(Photo)
             .group_by(Identity.id).order_by(Identity.name))
        with self.session() as s:
            return [(n, c) for n, c in s.execute(q).all()]

    def _person(self, s: Session, name: str) -> Identity:
        person = s.scalar(select(Identity).where(Identity.name == name))
        if person is None:
            raise NotFoundError(f"no identity named {name!r}")
        return person

    def remove_identity(self, name: str) -> list[int]:
        """Delete an identity and its photos; returns the photo ids."""
        with self.session() as s, s.begin():
            person = self._person(s, name)
            ids = [p.id for p in person.photos]
            s.delete(person)
            record(s, "remove", name, photos=len(ids))
        return ids

    def rename_identity(self, old: str, new: str) -> None:
        with self.session() as s, s.begin():
            person = self._person(s, old)
            if s.scalar(select(Identity).where(Identity.name == new)) is not None:
                raise ConflictError(f"identity {new!r} already exists")
            person.name = new
            rename_references(s, old, new)  # corrections and named clusters follow the person
            record(s, "rename", old, to=new)

    def photos_of(self, name: str) -> list[dict]:
        """The stored photos of one identity: id, path, detection and quality, when added."""
        with self.session() as s:
            person = self._person(s, name)
            return [{"id": p.id, "path": p.path, "det_score": p.det_score, "n_faces": p.n_faces,
                     "quality": p.quality, "added": p.created_at.isoformat() if p.created_at else None}
                    for p in sorted(person.photos, key=lambda p: p.id)]

    def photo_owners(self, hashes) -> dict[str, tuple[int, str]]:
        """sha256 -> (photo id, identity) of stored photos with these bytes."""
        with self.session() as s:
            return {h: (pid, n) for h, pid, n in s.execute(
                select(Photo.sha256, Photo.id, Identity.name).join(Identity).where(Photo.sha256.in_(list(hashes))))}

    def remove_photo(self, photo_id: int) -> str:
        """Delete one photo, and its identity if no photo is left; returns the identity."""
        with self.session() as s, s.begin():
            photo = s.get(Photo, photo_id)
            if photo is None:
                raise NotFoundError(f"no photo with id {photo_id}")
            person = photo.identity
            s.delete(photo)
            s.flush()
            if not s.scalar(select(func.count(Photo.id)).where(Photo.identity_id == person.id)):
                s.delete(person)
            record(s, "remove_photo", person.name, photo=photo_id)
            return person.name

    # -- embedding cache for labelled data -------------------------------------------------
    def cached_embeddings(self, checksum: str, dim: int) -> dict[str, tuple[np.ndarray, dict]]:
        """sha256 -> (embedding, quality record), for one encoder; damaged entries and entries
        cached before quality was measured are left out (embedded again)."""
        with self.session() as s:
            rows = s.execute(select(CachedEmbedding.sha256, CachedEmbedding.embedding, CachedEmbedding.quality_info)
                             .where(CachedEmbedding.model_checksum == checksum)).all()
        return {h: (np.frombuffer(b, np.float32), q) for h, b, q in rows if q and vector_problem(b, dim) is None}

    def cache_embeddings(self, checksum: str, items: dict[str, tuple[np.ndarray, bool, FaceQuality | None]]) -> None:
        """Store ``sha256 -> (vector, face detected, quality)`` for one encoder."""
        with self.session() as s, s.begin():
            for h, (vector, detected, quality) in items.items():
                s.merge(CachedEmbedding(sha256=h, model_checksum=checksum, embedding=to_blob(vector),
                                        detected=detected, quality_info=_quality_record(quality)))
