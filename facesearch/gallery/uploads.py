"""Photos enrolled from memory (uploads to the server; bytes or PIL images from Python).

All or nothing: every photo is embedded before the writer's lock is taken, and a photo
that cannot be used, or whose bytes are enrolled as someone else, refuses the whole
request before anything is written. Stored photos get the path ``upload:<sha256[:16]>/<name>``
(no file is kept: the database keeps the embedding, as for any photo).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConflictError, ImageError
from ..faces.pipeline import Embedded, label
from ..types import FileError, shown
from .enrolment import new_photo, save_photos
from .store import GalleryMeta, Store
from .vectors import VectorStore

UPLOAD_PREFIX = "upload:"


@dataclass
class UploadReport:
    identity: str
    added: list[int] = field(default_factory=list)  # ids of the new photos
    existing: list[int] = field(default_factory=list)  # same bytes already enrolled as this identity
    unusable: list[tuple[str, list[str]]] = field(default_factory=list)  # (photo, reasons)
    no_face: int = 0


def upload_path(result: Embedded) -> str:
    name = label(result.path).replace("\\", "/").rsplit("/", 1)[-1] or "photo"
    return f"{UPLOAD_PREFIX}{result.sha256[:16]}/{name}"


def embed_all(embedder, photos) -> list[Embedded]:
    """Every photo embedded, or an ImageError naming each one that cannot be used."""
    results = list(embedder.run(photos))
    errors = [r for r in results if isinstance(r, FileError)]
    if errors:
        raise ImageError("; ".join(f"{shown(e.path)}: {e.reason}" for e in errors))
    return results


def owners(store: Store, name: str, results: list[Embedded]) -> dict[str, int]:
    """sha256 -> photo id of photos already enrolled as ``name``; ConflictError if any is
    enrolled as someone else."""
    found = store.photo_owners({r.sha256 for r in results})
    for r in results:
        if r.sha256 in found and found[r.sha256][1] != name:
            pid, other = found[r.sha256]
            raise ConflictError(f"{shown(label(r.path))}: the same photo is enrolled as {shown(other)} "
                                f"(photo {pid}): a photo cannot show two identities")
    return {h: pid for h, (pid, _) in found.items()}


def store_uploads(store: Store, sync: VectorStore, meta: GalleryMeta, name: str, results: list[Embedded],
                  quality_gate: str) -> UploadReport:
    """Inside the writer section: add the new photos to the store and the index."""
    existing = owners(store, name, results)  # again, under the lock: another writer may have added them
    report, photos, seen = UploadReport(name), [], set()
    for r in results:
        if r.sha256 in existing:
            if existing[r.sha256] not in report.existing:
                report.existing.append(existing[r.sha256])
            continue
        if r.sha256 in seen:  # the same bytes twice in one request
            continue
        seen.add(r.sha256)
        face = r.face
        if not face.quality.usable:
            report.unusable.append((label(r.path), face.quality.reasons))
            if quality_gate == "skip":
                continue
        report.no_face += not face.detected
        photos.append(new_photo(name, None, upload_path(r), r))
    if photos:
        report.added, _ = save_photos(store, sync, meta, photos)
    return report
