"""Tables of the photo library (migration 0009): photos clustered by ``facesearch cluster``,
their faces and clusters, corrections ("this face is not NAME"), the audit log and the
shadow embeddings of ``facesearch reembed``.

Kept apart from :mod:`.schema` (the gallery's own tables); :mod:`.library_store` queries
them (and :func:`rename_references`, for the store's rename).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, LargeBinary, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .schema import Base, utcnow


class LibraryPhoto(Base):
    """A photo seen by ``cluster`` (with or without faces): seen again unchanged, it is skipped."""

    __tablename__ = "library_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String, unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    n_faces: Mapped[int] = mapped_column(Integer)
    model_checksum: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryCluster(Base):
    """A group of faces taken for one person; ``name`` once enrolled by ``cluster name``."""

    __tablename__ = "library_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryFace(Base):
    """One detected face of a library photo, its embedding and its cluster (None: unclustered)."""

    __tablename__ = "library_faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("library_photos.id", ondelete="CASCADE"), index=True)
    face_index: Mapped[int] = mapped_column(Integer)  # left to right, as `query --all-faces`
    box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    det_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    quality_info: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("library_clusters.id", ondelete="SET NULL"),
                                                   nullable=True, index=True)


class Feedback(Base):
    """A correction: the face at ``photo`` (``face_index``) is not ``not_identity``."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    photo: Mapped[str] = mapped_column(String)
    face_index: Mapped[int] = mapped_column(Integer)
    box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    not_identity: Mapped[str] = mapped_column(String, index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    model_checksum: Mapped[str] = mapped_column(String)


class AuditEntry(Base):
    """One write: when, what, on whom, by which command or API token id (never biometric data)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str | None] = mapped_column(String, nullable=True)
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    actor: Mapped[str] = mapped_column(String)


class ShadowEmbedding(Base):
    """A stored photo embedded by the model ``reembed`` is moving to (until ``--switch``)."""

    __tablename__ = "reembed_shadow"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    model_checksum: Mapped[str] = mapped_column(String, primary_key=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


def vectors_key(card) -> str:
    """What the library's ``model_checksum`` columns hold: the encoder's checksum, marked when
    its embeddings are not flip-averaged (one network, two kinds of vectors)."""
    return card.checksum if card.flip else f"{card.checksum}:no-flip"


def rename_references(s: Session, old: str, new: str) -> None:
    """Inside a rename: corrections and named clusters follow the person to the new name."""
    s.execute(update(Feedback).where(Feedback.not_identity == old).values(not_identity=new))
    s.execute(update(LibraryCluster).where(LibraryCluster.name == old).values(name=new))
