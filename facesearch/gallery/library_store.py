"""Every SQL statement of the photo library: library photos and faces, clusters, corrections
and the audit log (tables in :mod:`.library_schema`), behind plain-Python methods.

Callers get numpy arrays, dicts and dataclasses, never ORM rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select, update

from ..errors import NotFoundError
from .audit import record
from .library_schema import AuditEntry, Feedback, LibraryCluster, LibraryFace, LibraryPhoto, ShadowEmbedding
from .schema import CachedEmbedding
from .store import Store, from_blobs, to_blob, vector_problem


@dataclass
class NewFace:
    """A detected face of a library photo, ready to store."""

    index: int
    box: list | None
    det_score: float | None
    quality: dict | None
    vector: np.ndarray


@dataclass
class LibraryFaces:
    """Every stored library face with a valid embedding, by face id."""

    ids: np.ndarray  # face ids
    photo_ids: np.ndarray
    clusters: np.ndarray  # cluster id, -1: unclustered
    vectors: np.ndarray
    paths: list[str]  # of each face's photo
    index: list[int]  # position of the face in its photo (left to right)
    boxes: list


class LibraryStore:
    """The library tables of one :class:`~.store.Store`'s database."""

    def __init__(self, store: Store):
        self.store = store

    def session(self):
        return self.store.session()

    # -- photos and faces ------------------------------------------------------------------
    def seen(self, checksum: str) -> dict[str, str]:
        """path -> sha256 of every library photo (with or without faces) embedded by the
        encoder of ``checksum`` (after ``reembed --switch`` the others are embedded again)."""
        with self.session() as s:
            return dict(s.execute(select(LibraryPhoto.path, LibraryPhoto.sha256)
                                  .where(LibraryPhoto.model_checksum == checksum)).all())

    def add_photos(self, photos: list[tuple[str, str, list[NewFace]]], checksum: str) -> None:
        """Store ``(path, sha256, faces)`` of photos (one transaction); a stored path whose
        bytes changed is replaced with its faces. The same bytes embedded again (by another
        encoder, after ``reembed --switch``) keep each face's cluster."""
        with self.session() as s, s.begin():
            paths = [p for p, _, _ in photos]
            kept = {(p, h, i): c for p, h, i, c in s.execute(
                select(LibraryPhoto.path, LibraryPhoto.sha256, LibraryFace.face_index, LibraryFace.cluster_id)
                .join(LibraryPhoto).where(LibraryPhoto.path.in_(paths)))}
            s.execute(delete(LibraryPhoto).where(LibraryPhoto.path.in_(paths)))
            for path, sha, faces in photos:
                row = LibraryPhoto(path=path, sha256=sha, n_faces=len(faces), model_checksum=checksum)
                s.add(row)
                s.flush()
                s.add_all(LibraryFace(photo_id=row.id, face_index=f.index, box=f.box, det_score=f.det_score,
                                      quality_info=f.quality, embedding=to_blob(f.vector),
                                      cluster_id=kept.get((path, sha, f.index))) for f in faces)

    def faces(self, dim: int, paths: list[str] | None = None, checksum: str | None = None) -> LibraryFaces:
        """The stored faces (of the photos at ``paths``, or all; embedded by the encoder of
        ``checksum``, or any), by face id; faces whose stored embedding is damaged are left out."""
        q = (select(LibraryFace.id, LibraryFace.photo_id, LibraryFace.cluster_id, LibraryFace.embedding,
                    LibraryPhoto.path, LibraryFace.face_index, LibraryFace.box)
             .join(LibraryPhoto).order_by(LibraryFace.id))
        if paths is not None:
            q = q.where(LibraryPhoto.path.in_(paths))
        if checksum is not None:
            q = q.where(LibraryPhoto.model_checksum == checksum)
        with self.session() as s:
            rows = [r for r in s.execute(q).all() if vector_problem(r[3], dim) is None]
        return LibraryFaces(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                            np.array([-1 if r[2] is None else r[2] for r in rows], np.int64),
                            from_blobs([r[3] for r in rows], dim), [r[4] for r in rows], [r[5] for r in rows],
                            [r[6] for r in rows])

    def save_clusters(self, face_ids: np.ndarray, labels: np.ndarray) -> dict[int, int]:
        """Store each face's cluster: labels >= 0 are existing cluster ids, labels <= -2 new
        clusters (one row each), -1 unclustered. Returns new label -> new cluster id."""
        with self.session() as s, s.begin():
            made = {}
            for label in sorted({int(x) for x in labels if x <= -2}, reverse=True):
                row = LibraryCluster()
                s.add(row)
                s.flush()
                made[label] = row.id
            by_cluster: dict[int | None, list[int]] = {}
            for fid, label in zip(face_ids.tolist(), labels.tolist()):
                cid = None if label == -1 else made.get(label, label)
                by_cluster.setdefault(cid, []).append(fid)
            for cid, ids in by_cluster.items():
                s.execute(update(LibraryFace).where(LibraryFace.id.in_(ids)).values(cluster_id=cid))
            record(s, "cluster", None, new_clusters=len(made), faces=len(face_ids))
        return made

    def clusters(self) -> dict[int, str | None]:
        """cluster id -> name given by ``cluster name`` (None: not named yet)."""
        with self.session() as s:
            return dict(s.execute(select(LibraryCluster.id, LibraryCluster.name)).all())

    def cluster_faces(self, cluster_id: int, checksum: str) -> list[dict]:
        """The faces of one cluster embedded by the encoder of ``checksum``: path, sha256,
        index, box, det_score, quality, vector."""
        with self.session() as s:
            if s.get(LibraryCluster, cluster_id) is None:
                raise NotFoundError(f"no cluster with id {cluster_id}")
            rows = s.execute(select(LibraryPhoto.path, LibraryPhoto.sha256, LibraryPhoto.n_faces, LibraryFace)
                             .join(LibraryPhoto).where(LibraryFace.cluster_id == cluster_id,
                                                       LibraryPhoto.model_checksum == checksum)).all()
            return [{"path": p, "sha256": h, "n_faces": n, "index": f.face_index, "box": f.box,
                     "det_score": f.det_score, "quality": f.quality_info,
                     "vector": np.frombuffer(f.embedding, np.float32)} for p, h, n, f in rows]

    def face_photo(self, face_id: int) -> tuple[str, list | None]:
        """(photo path, box) of one library face."""
        with self.session() as s:
            row = s.execute(select(LibraryPhoto.path, LibraryFace.box).join(LibraryPhoto)
                            .where(LibraryFace.id == face_id)).first()
        if row is None:
            raise NotFoundError(f"no library face with id {face_id}")
        return row[0], row[1]

    def set_cluster_name(self, cluster_id: int, name: str) -> None:
        with self.session() as s, s.begin():
            s.get(LibraryCluster, cluster_id).name = name

    # -- corrections -----------------------------------------------------------------------
    def add_feedback(self, photo: str, face_index: int, box, not_identity: str, vector: np.ndarray,
                     checksum: str) -> int:
        with self.session() as s, s.begin():
            row = Feedback(photo=photo, face_index=face_index, box=box, not_identity=not_identity,
                           embedding=to_blob(vector), model_checksum=checksum)
            s.add(row)
            s.flush()
            record(s, "feedback", not_identity, feedback=row.id, photo=photo, face=face_index)
            return row.id

    def feedback(self) -> list[dict]:
        """Every stored correction, oldest first (no embeddings)."""
        with self.session() as s:
            return [{"id": f.id, "photo": f.photo, "face": f.face_index, "box": f.box, "not": f.not_identity,
                     "added": f.created_at.isoformat()} for f in s.scalars(select(Feedback).order_by(Feedback.id))]

    def undo_feedback(self, feedback_id: int) -> str:
        """Delete one correction (its face may be named that person again); returns the name."""
        with self.session() as s, s.begin():
            row = s.get(Feedback, feedback_id)
            if row is None:
                raise NotFoundError(f"no correction with id {feedback_id}")
            s.delete(row)
            record(s, "feedback_undo", row.not_identity, feedback=feedback_id)
            return row.not_identity

    def vetoes(self, checksum: str, dim: int) -> dict[str, np.ndarray]:
        """identity -> the embeddings of faces corrected as not that identity (this encoder's)."""
        with self.session() as s:
            rows = s.execute(select(Feedback.not_identity, Feedback.embedding)
                             .where(Feedback.model_checksum == checksum)).all()
        out: dict[str, list[bytes]] = {}
        for name, blob in rows:
            if vector_problem(blob, dim) is None:
                out.setdefault(name, []).append(blob)
        return {name: from_blobs(blobs, dim) for name, blobs in out.items()}

    def feedback_vectors(self, checksum: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, embeddings) of the corrections made with this encoder."""
        with self.session() as s:
            rows = [r for r in s.execute(select(Feedback.id, Feedback.embedding)
                                         .where(Feedback.model_checksum == checksum)).all()
                    if vector_problem(r[1], dim) is None]
        return np.array([r[0] for r in rows], np.int64), from_blobs([r[1] for r in rows], dim)

    # -- erasure ----------------------------------------------------------------------------
    def erase_references(self, name: str, hashes: set[str], photo_ids: list[int], found) -> dict[str, int]:
        """Delete what else holds the biometric data of ``name``: the shadow embeddings of its
        photos (``photo_ids``), the cached embeddings of its photos' bytes (``hashes``), the
        corrections naming it, the library faces of clusters named it (with those clusters),
        and what :func:`.library_erase.recognised` found (``found``). Counts by kind."""
        with self.session() as s, s.begin():
            clusters = set(s.scalars(select(LibraryCluster.id).where(LibraryCluster.name == name)))
            clusters |= set(found.clusters)
            faces = delete(LibraryFace).where(LibraryFace.cluster_id.in_(clusters) | LibraryFace.id.in_(found.faces))
            cached = set(hashes) | set(found.cached)
            counts = {
                "cached_embeddings": s.execute(delete(CachedEmbedding).where(
                    CachedEmbedding.sha256.in_(cached))).rowcount if cached else 0,
                "corrections": s.execute(delete(Feedback).where(
                    (Feedback.not_identity == name) | Feedback.id.in_(found.feedback))).rowcount,
                "library_faces": s.execute(faces).rowcount if clusters or found.faces else 0,
                "clusters": len(clusters),
                "shadow_embeddings": s.execute(delete(ShadowEmbedding).where(
                    ShadowEmbedding.photo_id.in_(photo_ids))).rowcount if photo_ids else 0}
            if clusters:
                s.execute(delete(LibraryCluster).where(LibraryCluster.id.in_(clusters)))
            return counts

    def record(self, action: str, target: str | None = None, **details) -> None:
        """An audit row of its own (for writes outside one transaction, e.g. an erasure's end)."""
        with self.session() as s, s.begin():
            record(s, action, target, **details)

    # -- audit log --------------------------------------------------------------------------
    def audit(self, limit: int | None = None) -> list[dict]:
        """The audit log, oldest first (``limit``: the newest ``limit`` rows)."""
        q = select(AuditEntry).order_by(AuditEntry.id.desc())
        if limit:
            q = q.limit(limit)
        with self.session() as s:
            rows = list(s.scalars(q))[::-1]
            return [{"id": a.id, "at": a.at.isoformat(), "action": a.action, "target": a.target,
                     "details": a.details or {}, "actor": a.actor} for a in rows]
