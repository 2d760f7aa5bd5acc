"""``/v1/people``: the enrolled identities, their photos, enrolling, renaming, removing."""
from __future__ import annotations

from fastapi import APIRouter, Body, File, Path as PathParam, Query, Request, Response, UploadFile

from ..gallery.enrolment import valid_name
from . import schemas
from .photos import photo_dict
from .service import ExposePaths, ReaderGallery, WriterGallery, photo_failures, upload

router = APIRouter()
IDENTITY = PathParam(description="an enrolled identity's name (URL-encoded)")


@router.get("/people", response_model=schemas.People)
def people(gallery: ReaderGallery):
    """Enrolled identities with their photo counts, by name."""
    return {"people": [{"identity": n, "photos": c} for n, c in gallery.people()]}


@router.get("/people/{identity:path}/photos", response_model=schemas.Photos)
def photos(gallery: ReaderGallery, expose_paths: ExposePaths, identity: str = IDENTITY):
    """One identity's stored photos (ids for DELETE /v1/photos/{id})."""
    rows = gallery.photos(valid_name(identity))
    return {"identity": valid_name(identity), "photos": [photo_dict(p, expose_paths) for p in rows]}


@router.post("/people/{identity:path}/photos", response_model=schemas.Added, status_code=201)
def enrol(request: Request, gallery: WriterGallery, identity: str = IDENTITY,
          image: list[UploadFile] = File(..., description="one or more photos (repeat the field)"),
          quality_gate: str = Query("warn", pattern="^(warn|skip)$",
                                    description="unusable faces: enrol and list them, or skip them")):
    """Enrol photos as ``identity`` (created if new). All or nothing: one photo that is
    not an image (422) or is enrolled as someone else (409) refuses the request."""
    photos = [upload(u) for u in image]
    with photo_failures(request):
        report = gallery.enroll_photos(valid_name(identity), photos, quality_gate)
    return {"identity": report.identity, "added": report.added, "existing": report.existing,
            "unusable": [{"photo": p, "reasons": r} for p, r in report.unusable]}


@router.patch("/people/{identity:path}", response_model=schemas.Renamed)
def rename(gallery: WriterGallery, identity: str = IDENTITY, body: schemas.Rename = Body(...)):
    """Rename an identity (409 if the new name is taken)."""
    gallery.rename(valid_name(identity), body.name)
    return {"identity": valid_name(body.name), "previous": valid_name(identity)}


@router.delete("/people/{identity:path}", status_code=204, response_class=Response)
def remove(gallery: WriterGallery, identity: str = IDENTITY):
    """Remove an identity, its photos and their vectors."""
    gallery.remove(valid_name(identity))
    return Response(status_code=204)
