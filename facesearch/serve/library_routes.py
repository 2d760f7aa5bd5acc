"""REST routes of the photo library (clusters, corrections, erasure, audit log) and the
middleware that names the API token of each request in the audit log (``create_app``
installs both; the clusters page is in :mod:`.pages`).

Writes go through the service's writer twin, one at a time, like every other write.
Clustering a folder runs where the photos are (``facesearch cluster DIR``, or
``Library.cluster`` in Python); the server clusters uploaded photos, lists and names clusters.
"""
from __future__ import annotations

from typing import Annotated, Callable

from fastapi import APIRouter, Body, Depends, File, Path as PathParam, Query, Response, UploadFile
from pydantic import BaseModel, Field

from ..config import AUDIT_ACTOR
from ..gallery.audit import token_id
from ..gallery.enrolment import valid_name as _name
from ..gallery.library import Library
from .middleware import token_given
from .photos import shown_path
from .service import ExposePaths, ReaderGallery, Served, upload as _photo


class ClusterName(BaseModel):
    name: str = Field(description="the person's name (an enrolled person gets these faces too)")


class AuditActor:
    """ASGI middleware: the audit log names a request's API token by its id (a digest; never
    the token). A server without a token writes as ``api:anonymous``."""

    def __init__(self, app, token: str | None = None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        actor = AUDIT_ACTOR.set(token_id(token_given(headers) if self.token else None))
        try:
            await self.app(scope, receive, send)
        finally:
            AUDIT_ACTOR.reset(actor)


def library(gallery: ReaderGallery) -> Library:
    """The photo library over the reader gallery, as the database is now."""
    return Library(gallery)


def library_writer(service: Served):
    """``write(action, *args)``: runs ``action(library, *args)`` on the writer twin's library,
    one write at a time."""
    def write(action, *args):
        return service.write(lambda: action(Library(service.writer), *args))
    return write


LibraryReader = Annotated[Library, Depends(library)]
LibraryWrite = Annotated[Callable, Depends(library_writer)]
router = APIRouter()


@router.post("/feedback", status_code=201)
def feedback(write: LibraryWrite, image: UploadFile = File(..., description="the photo"),
             not_identity: str = Query(..., description="the enrolled person this face is not"),
             face: int | None = Query(None, ge=0, description="which face, left to right from 0 "
                                      "(default: the largest, most central one)")):
    """Record that a face is not ``not_identity``: it, and faces closer to it than to that
    person's photos, are no longer accepted as them (nothing is retrained)."""
    return write(Library.correct, _photo(image), _name(not_identity), face)


@router.get("/feedback")
def feedback_list(reader: LibraryReader, expose_paths: ExposePaths):
    """The stored corrections, oldest first (photos named by file name, as everywhere)."""
    return {"feedback": [{**f, "photo": shown_path(f["photo"], expose_paths)} for f in reader.feedback()]}


@router.delete("/feedback/{feedback_id}", status_code=204, response_class=Response)
def feedback_undo(write: LibraryWrite,
                  feedback_id: int = PathParam(description="a correction's id (GET /v1/feedback)")):
    """Undo (delete) a correction."""
    write(Library.undo, feedback_id)
    return Response(status_code=204)


@router.post("/clusters")
def cluster(write: LibraryWrite,
            image: list[UploadFile] = File(..., description="one or more photos (repeat the field)"),
            threshold: float | None = Query(None, ge=-1, le=1, description="mean cosine similarity for two "
                                            "groups of faces to be one person (default: the shipped model's)")):
    """Add photos to the library and cluster it, as ``facesearch cluster`` (incremental:
    photos stored already are not embedded again). One ``faces`` entry per face of
    these photos; a photo that cannot be used is listed in ``errors``."""
    report = write(Library.cluster, [_photo(u) for u in image], threshold)
    return {"faces": [f.as_dict() for f in report.faces], "summary": report.summary(),
            "errors": [{"photo": e.path, "error": e.reason} for e in report.errors]}


@router.get("/clusters")
def clusters(reader: LibraryReader, expose_paths: ExposePaths):
    """The library's clusters (made by ``facesearch cluster``): id, name, faces."""
    return {"clusters": [{**c, "faces": [{**f, "photo": shown_path(f["photo"], expose_paths)} for f in c["faces"]]}
                         for c in reader.clusters()]}


@router.get("/library/faces/{face_id}/thumbnail", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "the face, 96 px"}})
def thumbnail(reader: LibraryReader,
              face_id: int = PathParam(description="a library face's id (GET /v1/clusters)")):
    """A JPEG of one library face (ids in ``GET /v1/clusters``), cut from its photo's file."""
    return Response(reader.thumbnail(face_id), media_type="image/jpeg")


@router.post("/clusters/{cluster_id}/name")
def cluster_name(write: LibraryWrite, cluster_id: int = PathParam(description="a cluster's id (GET /v1/clusters)"),
                 body: ClusterName = Body(...)):
    """Enrol a cluster's faces as ``name`` (merged into that person if enrolled)."""
    added = write(Library.name_cluster, cluster_id, body.name)
    return {"cluster": cluster_id, "identity": _name(body.name), "added": added}


@router.post("/people/{identity:path}/erase")
def erase(write: LibraryWrite, identity: str = PathParam(description="an enrolled identity's name (URL-encoded)")):
    """Remove a person and every copy of their biometric data (cached embeddings,
    corrections, library faces, classifier; vectors rebuilt), then compact the database."""
    return write(Library.erase, _name(identity)).as_dict()


@router.get("/audit")
def audit(reader: LibraryReader, limit: int | None = Query(None, ge=1, description="only the newest entries")):
    """The audit log, oldest first: when, what, on whom, by which command or token id."""
    return {"audit": reader.audit(limit)}
