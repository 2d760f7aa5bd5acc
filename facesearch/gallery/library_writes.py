"""The library's writes that go through the gallery's writer protocol (lock + generation):
enrolling a cluster's faces under a name, and erasing a person for real.

Erasing removes every copy of the person's biometric data: their rows and embeddings, the
cached embeddings of their photos' bytes, corrections naming them, library faces of
clusters named after them, the vectors (the FAISS file or Milvus collection is rebuilt
from the remaining rows, so no deleted vector lingers in a file or a segment), the fitted
classifier (it holds support vectors of every person: it is deleted, to be fitted again),
and then compacts the database (SQLite: VACUUM and a truncating WAL checkpoint, with
``secure_delete`` on; PostgreSQL: VACUUM FULL of the tables that held them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..errors import GalleryError, NotFoundError
from ..types import FaceQuality
from .audit import record
from .classifier import classifier_path
from .enrolment import save_photos, valid_name
from .library_store import LibraryStore
from .schema import Identity, Photo
from .store import NewPhoto

ERASED_TABLES = ("photos", "identities", "person_folders", "embedding_cache", "feedback", "library_faces",
                 "library_clusters")


@dataclass
class EraseReport:
    identity: str
    photos: int = 0
    removed: dict = field(default_factory=dict)  # kind -> count (cached embeddings, corrections, ...)
    classifier: bool = False  # the fitted classifier file was deleted
    compacted: str = ""  # what compaction ran

    def as_dict(self) -> dict:
        return {"erased": self.identity, "photos": self.photos, **self.removed, "classifier": self.classifier,
                "compacted": self.compacted}


def _quality(record_: dict | None) -> FaceQuality | None:
    if not record_:
        return None
    return FaceQuality(record_.get("score", 0.0), bool(record_.get("usable", True)), list(record_.get("reasons", [])),
                       record_.get("measures", {}))


def enrol_cluster(gallery, cluster_id: int, name: str) -> list[int]:
    """Enrol the faces of a library cluster as ``name`` (a new person, or more photos of an
    enrolled one); returns the new photo ids. A face of a photo with several faces is
    stored as ``<path>#face<i>``."""
    name = valid_name(name)
    lib = LibraryStore(gallery.store)
    faces = lib.cluster_faces(int(cluster_id))
    if not faces:
        raise GalleryError(f"cluster {cluster_id} has no faces left")
    with gallery.store.session() as s:  # the same bytes are enrolled once per person
        known = set(s.scalars(select(Photo.sha256).join(Identity).where(Identity.name == name)))
    rows, seen = [], set(known)
    for f in faces:
        if f["sha256"] in seen:
            continue
        seen.add(f["sha256"])
        path = f["path"] if f["n_faces"] == 1 else f"{f['path']}#face{f['index']}"
        rows.append(NewPhoto(name, None, path, f["sha256"], f["box"], f["det_score"], f["n_faces"],
                             _quality(f["quality"]), f["vector"]))
    with gallery._writing() as (meta, _):
        ids = save_photos(gallery.store, gallery.sync, meta, rows)[0] if rows else []
        lib.set_cluster_name(int(cluster_id), name)
    return ids


def erase(gallery, name: str) -> EraseReport:
    """Remove ``name`` and every copy of their biometric data (see the module's docstring)."""
    store = gallery.store
    if name not in dict(gallery.people()):
        raise NotFoundError(f"no identity named {name!r}")
    with store.session() as s:
        hashes = set(s.scalars(select(Photo.sha256).join(Identity).where(Identity.name == name)))
    report = EraseReport(name)
    with gallery._writing() as (meta, _):
        ids = store.remove_identity(name)
        gallery.sync.remove(meta, ids)
        report.photos = len(ids)
        report.removed = LibraryStore(store).erase_references(name, hashes)
    gallery.reindex()  # a fresh FAISS file / Milvus collection: deleted vectors linger nowhere
    path = classifier_path(gallery)
    if path.exists():
        path.unlink()
        report.classifier = True
    report.compacted = compact(store)
    with store.session() as s, s.begin():
        record(s, "erase", name, **{k: v for k, v in report.as_dict().items() if k != "erased"})
    return report


def compact(store) -> str:
    """Give the freed space back so deleted bytes are nowhere in the database's files."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL " + ", ".join(ERASED_TABLES))
        return "VACUUM FULL"
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA secure_delete=ON")
        raw.execute("VACUUM")
        busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return "VACUUM" + (", WAL checkpoint busy (another reader holds it: it is emptied on its next checkpoint)"
                       if busy else ", WAL truncated")
