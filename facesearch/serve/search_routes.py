"""``/v1/search`` and ``/v1/compare``: who is in a photo, and are two faces one person."""
from __future__ import annotations

import time

from fastapi import APIRouter, File, Query, Request, UploadFile

from ..errors import ImageError
from ..types import FaceMatch, FileError, shown
from ..types.records import CompareResult
from .photos import face_record
from .schemas import SearchResult
from .service import ExposePaths, ReaderGallery, Served, photo_failures, upload

router = APIRouter()


@router.post("/search", response_model=SearchResult, response_model_exclude_unset=True)  # gender if asked
def search(request: Request, service: Served, expose_paths: ExposePaths,
           image: UploadFile = File(..., description="the photo"),
           k: int = Query(5, ge=1, le=100, description="identities per face"),
           all_faces: bool = Query(False, description="every detected face, left to right"),
           threshold: float | None = Query(None, ge=-1, le=1, description="accept by this cosine score "
                                           "alone (default: the calibrated rule, score floor + margin "
                                           "over the runner-up)"),
           attributes: bool = Query(False, description="also each face's gender")):
    """Who is in the photo: top-k identities of its face (or of every face)."""
    start = time.perf_counter()
    with photo_failures(request):
        r = service.batcher.submit((all_faces, threshold, attributes), upload(image), k)
    if isinstance(r, FileError):
        raise ImageError(f"{shown(r.path)}: {r.reason}")
    faces = r.faces if r.faces is not None else [FaceMatch(r.face, r.matches, r.accepted, r.attributes,
                                                           r.calibration, r.reason, r.rule)]
    return SearchResult(faces=[face_record(f, expose_paths) for f in faces], warnings=r.warnings,
                        processing_ms=round((time.perf_counter() - start) * 1000, 2))


@router.post("/compare", response_model=CompareResult)
def compare(request: Request, service: Served, gallery: ReaderGallery,
            image_a: UploadFile = File(..., description="the first photo (its largest, most central face)"),
            image_b: UploadFile = File(..., description="the second photo (its largest, most central face)")):
    """Cosine similarity of the faces in two photos; ``same`` by the verification
    calibration (the database's, else the model's shipped one)."""
    with photo_failures(request), service.batcher.lane():
        res = gallery.verify(upload(image_a), upload(image_b))
    if isinstance(res, FileError):
        raise ImageError(f"{shown(res.path)}: {res.reason}")
    return res.record()
