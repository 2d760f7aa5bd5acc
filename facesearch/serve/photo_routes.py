"""``/v1/photos/{id}``: one stored photo (a match's ``photo_url``), and removing it."""
from __future__ import annotations

from fastapi import APIRouter, Path as PathParam, Response

from ..errors import NotFoundError
from . import schemas
from .photos import checked_id, photo_dict
from .service import ExposePaths, ReaderGallery, WriterGallery

router = APIRouter()
PHOTO_ID = PathParam(description="a photo's id (a match's photo_id; GET /v1/people/{identity}/photos lists them)")


@router.get("/photos/{photo_id}", response_model=schemas.PhotoInfo)
def photo(gallery: ReaderGallery, expose_paths: ExposePaths, photo_id: int = PHOTO_ID):
    """One stored photo: its identity, detection and quality (the ``photo_url`` of a match)."""
    pid = checked_id(photo_id)
    found = gallery.store.photo_info({pid})
    if pid not in found:
        raise NotFoundError(f"no photo with id {pid}")
    name = found[pid][0]
    row = next((p for p in gallery.photos(name) if p["id"] == pid), None)
    if row is None:  # removed meanwhile
        raise NotFoundError(f"no photo with id {pid}")
    return {"identity": name, **photo_dict(row, expose_paths)}


@router.delete("/photos/{photo_id}", status_code=204, response_class=Response)
def remove_photo(gallery: WriterGallery, photo_id: int = PHOTO_ID):
    """Remove one photo and its vector (and its identity, if it was the last photo)."""
    gallery.remove_photo(checked_id(photo_id))
    return Response(status_code=204)
