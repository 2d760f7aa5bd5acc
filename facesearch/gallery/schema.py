"""The database schema (SQLAlchemy 2.0 tables) and its upgrade to Alembic's head.

The schema is owned by Alembic (``migrations/``); :func:`.database.open_engine` upgrades
on open. Only :mod:`.store` queries these tables.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, JSON, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..errors import StoreError


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    photos: Mapped[list["Photo"]] = relationship(back_populates="identity", cascade="all, delete-orphan")
    folders: Mapped[list["PersonFolder"]] = relationship(back_populates="identity", cascade="all, delete-orphan")


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("identity_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # == FAISS id
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String, index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    box: Mapped[list | None] = mapped_column(JSON, nullable=True)  # x1, y1, x2, y2 in source pixels
    det_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: no face, centre crop
    n_faces: Mapped[int] = mapped_column(Integer, default=0)
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)  # score 0..1 (first release: sharpness)
    quality_info: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # usable, reasons, measures
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    identity: Mapped[Identity] = relationship(back_populates="photos")


class IndexMeta(Base):
    """One row: which encoder built the vectors, and the generation of the index file."""

    __tablename__ = "index_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encoder: Mapped[str] = mapped_column(String)
    embedding_dim: Mapped[int] = mapped_column(Integer)
    preprocess: Mapped[dict] = mapped_column(JSON)
    model_checksum: Mapped[str] = mapped_column(String)
    model_ref: Mapped[dict] = mapped_column(JSON)  # how to rebuild the encoder: {"model", "weights"}
    detector: Mapped[str] = mapped_column(String, default="mtcnn")
    flip: Mapped[bool] = mapped_column(default=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    index_type: Mapped[str] = mapped_column(String, default="auto")  # auto | flat | ivf | hnsw
    index_params: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # nprobe, ef_search, ...
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold_info: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    database_id: Mapped[str | None] = mapped_column(String, nullable=True)  # stamped into the index file
    verify_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)  # `compare` (per comparison)
    verify_info: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    vectors: Mapped[str] = mapped_column(String, default="faiss")  # faiss | milvus:<uri>
    vectors_generation: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a Milvus collection's stamp


class PersonFolder(Base):
    """The folder an identity was enrolled from: re-indexing it after a rename keeps the new name."""

    __tablename__ = "person_folders"

    path: Mapped[str] = mapped_column(String, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), index=True)
    identity: Mapped[Identity] = relationship(back_populates="folders")


class CachedEmbedding(Base):
    """Embeddings of labelled (calibration / evaluation) photos, so re-runs embed nothing."""

    __tablename__ = "embedding_cache"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_checksum: Mapped[str] = mapped_column(String, primary_key=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    detected: Mapped[bool] = mapped_column()
    quality_info: Mapped[dict | None] = mapped_column(JSON, nullable=True)


def migrations_dir() -> Path:
    """Alembic's script folder: ``migrations/`` at the repository root in a checkout or an
    editable install; the wheel ships the same files as ``facesearch/migrations``."""
    checkout = Path(__file__).resolve().parents[2] / "migrations"
    return checkout if (checkout / "env.py").is_file() else Path(__file__).resolve().parents[1] / "migrations"


# The newest migration in migrations/versions (a test keeps the two in step). A DB already
# at this revision is opened without loading Alembic, which keeps cold queries fast.
SCHEMA_HEAD = "0009"


MIGRATION_LOCK = 0x46534D47  # "FSMG": PostgreSQL advisory lock key held while migrating


def current_revision(engine_or_conn) -> str | None:
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            return current_revision(conn)
    conn = engine_or_conn
    if not conn.dialect.has_table(conn, "alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def upgrade(engine) -> None:
    """Bring the schema to Alembic head; refuse a DB from a newer facesearch."""
    current = current_revision(engine)
    if current == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    script = ScriptDirectory.from_config(cfg)
    if current is not None and not _known(script, current):
        raise StoreError(f"database schema {current} is newer than this facesearch; upgrade facesearch")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two processes opening a new database: one migrates
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            if current_revision(conn) == SCHEMA_HEAD:
                return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _known(script, rev: str) -> bool:
    try:
        return script.get_revision(rev) is not None
    except Exception:
        return False
