"""The library's write that goes through the gallery's writer protocol (lock + generation):
enrolling a cluster's faces under a name. (Erasing a person: :mod:`.library_erase`.)
"""
from __future__ import annotations

from sqlalchemy import select

from ..errors import GalleryError
from ..types import FaceQuality
from .enrolment import save_photos, valid_name
from .library_schema import vectors_key
from .library_store import LibraryStore
from .schema import Identity, Photo
from .store import NewPhoto


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
    gallery.refresh()
    faces = lib.cluster_faces(int(cluster_id), vectors_key(gallery.ensure_meta().card))
    if not faces:
        raise GalleryError(f"cluster {cluster_id} has no faces embedded by this gallery's model (none left, or "
                           "only faces from before `reembed --switch`: run `facesearch cluster` on their photos)")
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
