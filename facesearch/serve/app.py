"""The REST service: a FastAPI app over one warm :class:`~facesearch.gallery.Gallery`.

Reads (search, compare, people) go to one Gallery: it re-reads the database's generation
on every search, so writes by the CLI (or anyone) are seen on the next request. Writes
(enrol, rename, remove) go one at a time through a twin Gallery under the CLI's writer
protocol (file lock + generation), so a CLI and a server share one database safely.
Concurrent searches are batched (:mod:`.batching`). Route handlers are plain functions:
FastAPI runs them in its thread pool.
"""
from __future__ import annotations

import logging
import threading
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from fastapi import APIRouter, Body, Depends, FastAPI, File, Path as PathParam, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import GalleryError, ImageError, NotFoundError
from ..gallery import Gallery, PhotoBytes
from ..gallery.reembed import follow_switch
from ..types import FaceMatch, FileError, identity_name, shown
from . import schemas
from .batching import Batcher
from .docs_page import install_docs
from .errors import install, request_id
from .guard import SitePolicy
from .library_routes import install_library
from .middleware import RequestContext, valid_token
from .photos import checked_id, face_dict, photo_dict, shown_path
from .reembed_routes import install_reembed

log = logging.getLogger("facesearch.serve")
MAX_FILE_NAME = 255  # characters of an upload's file name (it is stored with the photo)
# Failures of the photo's data, not of the server: with the batcher isolating each photo,
# such an exception belongs to the one photo it was raised for (422, traceback in the log).
PHOTO_FAILURES = (ValueError, IndexError, ArithmeticError)

STATIC = Path(__file__).resolve().parent / "static"
ERRORS = {status: {"model": schemas.Error, "description": what} for status, what in (
    (400, "invalid request (parameters, missing field, a name the gallery refuses, an unknown Host)"),
    (401, "a token is set and the request has none, or a wrong one"),
    (403, "a write from another site's page (Origin, Referer or Sec-Fetch-Site)"),
    (404, "no such identity or photo"), (408, "the request body did not arrive within --body-timeout"),
    (409, "conflict with what is stored"),
    (413, "upload larger than --max-upload-mb"), (422, "an upload is not a usable image"),
    (500, "the server cannot serve (database or model; never a traceback)"))}
DESCRIPTION = """Face identification over a facesearch gallery. Uploads are multipart fields
named `image`. With a token set (`--token` or `$FACESEARCH_API_TOKEN`), every `/v1` route
needs `Authorization: Bearer <token>` (or `X-API-Key: <token>`). Errors are
`{"error": {"code", "message", "request_id"}}`; every response has `X-Request-ID`. Writes
from a browser must come from the server's own page (same origin); photos are named by id
(`photo_id`, `photo_url`), not by the server's file paths."""


class Service:
    """The warm gallery, its writer twin and the search batcher."""

    def __init__(self, gallery: Gallery, max_batch: int = 16):
        self.reader = gallery
        self.writer = gallery.twin()
        self.write_lock = threading.Lock()
        self.batcher = Batcher(self._identify, max_batch)

    def _identify(self, key, photos: list, k: int) -> list:
        all_faces, threshold, attributes = key
        follow_switch(self.reader)  # after a `reembed --switch`: the new encoder
        return self.reader.identify(photos, k=k, threshold=threshold, all_faces=all_faces, attributes=attributes)

    def write(self, action, *args):
        with self.write_lock:
            follow_switch(self.writer)
            return action(*args)


def _photo(upload: UploadFile) -> PhotoBytes:
    name = upload.filename or "image"
    if len(name) > MAX_FILE_NAME or any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise GalleryError(f"upload file name {shown(name[:80])!r} is longer than {MAX_FILE_NAME} characters "
                           "or holds control characters: rename the file")
    return PhotoBytes(name, upload.file.read())


def _name(identity: str) -> str:
    try:  # a name with a NUL byte cannot be stored (nor looked up, on PostgreSQL)
        return identity_name(identity)
    except ValueError as e:
        raise GalleryError(str(e)) from None


@contextmanager
def _photo_failures(request: Request):
    try:
        yield
    except PHOTO_FAILURES:
        log.exception("request %s: a photo could not be processed", request_id(request))
        raise ImageError("a photo of this request could not be processed (the server log has the details)") from None


def create_app(gallery: Gallery, token: str | None = None, max_upload_mb: float = 10.0,
               warm: bool = True, max_batch: int = 16, *, host: str | None = None, allowed_hosts=(),
               allowed_origins=(), body_timeout: float = 30.0, expose_paths: bool = False) -> FastAPI:
    """The app serving ``gallery``. ``token``: required on every /v1 route when set (an empty
    one is a ValueError); ``warm``: load the models and the index now, not on the first
    request; ``host``, ``allowed_hosts``, ``allowed_origins``: the site rules of :mod:`.guard`;
    ``body_timeout``: seconds a request body may take to arrive; ``expose_paths``: results
    show stored photo paths as they are (default: file names only, see :mod:`.photos`)."""
    token = valid_token(token)
    if warm:
        gallery.warm_up()
    service = Service(gallery, max_batch)
    app = FastAPI(title="facesearch", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    install_docs(app)  # /docs and /redoc with their assets served locally (FastAPI's use a CDN)
    app.state.service = service
    install(app, hidden=(gallery.store.label, str(gallery.db_path)))
    app.add_middleware(RequestContext, max_body=int(max_upload_mb * (1 << 20)), token=token,
                       policy=SitePolicy(host, allowed_hosts, allowed_origins), body_timeout=body_timeout)
    # documented here (the check itself runs in RequestContext, before a body is read)
    security = [Depends(HTTPBearer(auto_error=False)), Depends(APIKeyHeader(name="X-API-Key", auto_error=False))]
    v1 = APIRouter(prefix="/v1", dependencies=security if token else [], responses=ERRORS)
    identity_param = PathParam(description="an enrolled identity's name (URL-encoded)")
    photo_id_param = PathParam(description="a photo's id (a match's photo_id; GET /v1/people/{identity}/photos "
                               "lists them)")

    @v1.get("/health", response_model=schemas.Health)
    def health():
        """Ready: counts and the encoder the gallery was built with."""
        follow_switch(service.reader)
        people = service.reader.people()
        card = service.reader.encoder.card
        return {"status": "ok", "identities": len(people), "photos": sum(n for _, n in people),
                "encoder": {"arch": card.arch, "model": shown_path(card.model, expose_paths),
                            "weights": card.weights and shown_path(card.weights, expose_paths),
                            "checksum": card.checksum, "embedding_dim": card.embedding_dim, "flip": card.flip},
                "detector": service.reader.detector}

    @v1.post("/search", response_model=schemas.SearchResult, response_model_exclude_unset=True)  # gender if asked
    def search(request: Request, image: UploadFile = File(..., description="the photo"),
               k: int = Query(5, ge=1, le=100, description="identities per face"),
               all_faces: bool = Query(False, description="every detected face, left to right"),
               threshold: float | None = Query(None, ge=-1, le=1, description="accept by this cosine score "
                                               "alone (default: the calibrated rule, score floor + margin "
                                               "over the runner-up)"),
               attributes: bool = Query(False, description="also each face's gender")):
        """Who is in the photo: top-k identities of its face (or of every face)."""
        start = time.perf_counter()
        with _photo_failures(request):
            r = service.batcher.submit((all_faces, threshold, attributes), _photo(image), k)
        if isinstance(r, FileError):
            raise ImageError(f"{shown(r.path)}: {r.reason}")
        faces = r.faces if r.faces is not None else [FaceMatch(r.face, r.matches, r.accepted, r.attributes,
                                                               r.calibration, r.reason, r.rule)]
        return {"faces": [face_dict(f, k, expose_paths) for f in faces], "warnings": r.warnings,
                "processing_ms": round((time.perf_counter() - start) * 1000, 2)}

    @v1.post("/compare", response_model=schemas.CompareResult)
    def compare(request: Request,
                image_a: UploadFile = File(..., description="the first photo (its largest, most central face)"),
                image_b: UploadFile = File(..., description="the second photo (its largest, most central face)")):
        """Cosine similarity of the faces in two photos; ``same`` by the verification
        calibration (the database's, else the model's shipped one)."""
        follow_switch(service.reader)
        with _photo_failures(request), service.batcher.lane():
            res = service.reader.verify(_photo(image_a), _photo(image_b))
        if isinstance(res, FileError):
            raise ImageError(f"{shown(res.path)}: {res.reason}")
        return res.as_dict()

    @v1.get("/people", response_model=schemas.People)
    def people():
        """Enrolled identities with their photo counts, by name."""
        return {"people": [{"identity": n, "photos": c} for n, c in service.reader.people()]}

    @v1.get("/people/{identity:path}/photos", response_model=schemas.Photos)
    def photos(identity: str = identity_param):
        """One identity's stored photos (ids for DELETE /v1/photos/{id})."""
        rows = service.reader.photos(_name(identity))
        return {"identity": _name(identity), "photos": [photo_dict(p, expose_paths) for p in rows]}

    @v1.post("/people/{identity:path}/photos", response_model=schemas.Added, status_code=201)
    def enrol(request: Request, identity: str = identity_param,
              image: list[UploadFile] = File(..., description="one or more photos (repeat the field)"),
              quality_gate: str = Query("warn", pattern="^(warn|skip)$",
                                        description="unusable faces: enrol and list them, or skip them")):
        """Enrol photos as ``identity`` (created if new). All or nothing: one photo that is
        not an image (422) or is enrolled as someone else (409) refuses the request."""
        photos = [_photo(u) for u in image]
        with _photo_failures(request):
            report = service.write(service.writer.enroll_photos, _name(identity), photos, quality_gate)
        return {"identity": report.identity, "added": report.added, "existing": report.existing,
                "unusable": [{"photo": p, "reasons": r} for p, r in report.unusable]}

    @v1.patch("/people/{identity:path}", response_model=schemas.Renamed)
    def rename(identity: str = identity_param, body: schemas.Rename = Body(...)):
        """Rename an identity (409 if the new name is taken)."""
        service.write(service.writer.rename, _name(identity), body.name)
        return {"identity": unicodedata.normalize("NFC", body.name), "previous": _name(identity)}

    @v1.delete("/people/{identity:path}", status_code=204, response_class=Response)
    def remove(identity: str = identity_param):
        """Remove an identity, its photos and their vectors."""
        service.write(service.writer.remove, _name(identity))
        return Response(status_code=204)

    @v1.get("/photos/{photo_id}", response_model=schemas.PhotoInfo)
    def photo(photo_id: int = photo_id_param):
        """One stored photo: its identity, detection and quality (the ``photo_url`` of a match)."""
        pid = checked_id(photo_id)
        found = service.reader.store.photo_info({pid})
        if pid not in found:
            raise NotFoundError(f"no photo with id {pid}")
        name = found[pid][0]
        row = next((p for p in service.reader.photos(name) if p["id"] == pid), None)
        if row is None:  # removed meanwhile
            raise NotFoundError(f"no photo with id {pid}")
        return {"identity": name, **photo_dict(row, expose_paths)}

    @v1.delete("/photos/{photo_id}", status_code=204, response_class=Response)
    def remove_photo(photo_id: int = photo_id_param):
        """Remove one photo and its vector (and its identity, if it was the last photo)."""
        service.write(service.writer.remove_photo, checked_id(photo_id))
        return Response(status_code=204)

    install_library(app, v1, service, token, expose_paths)  # clusters, corrections, erasure, audit (library_routes.py)
    install_reembed(v1, service, expose_paths)  # POST /v1/reembed, a background job (reembed_routes.py)
    app.include_router(v1)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    return app
