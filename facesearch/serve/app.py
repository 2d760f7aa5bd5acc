"""The REST service: a FastAPI app over one warm :class:`~facesearch.gallery.Gallery`.

``create_app`` puts the parts together: the :class:`~.service.Service` (reader gallery,
writer twin, search batcher) that routes receive through dependencies, one router per
area under ``/v1`` (``admin_routes``, ``search_routes``, ``people_routes``,
``photo_routes``, ``library_routes``), the web pages, the middleware (request ids, site
rules, token, upload limits) and the error envelope. Route handlers are plain functions:
FastAPI runs them in its thread pool.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..gallery import Gallery
from . import admin_routes, library_routes, pages, people_routes, photo_routes, reembed_routes, schemas, search_routes
from .docs_page import install_docs
from .errors import install
from .guard import SitePolicy
from .library_routes import AuditActor
from .middleware import RequestContext, valid_token
from .service import Service

ROUTERS = (admin_routes, search_routes, people_routes, photo_routes, library_routes, reembed_routes)  # /v1, in this order
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
# The token is documented by these dependencies (OpenAPI's security schemes) and checked by
# RequestContext, before a body is read: a Depends would run after FastAPI has read it.
TOKEN_SCHEMES = [Depends(HTTPBearer(auto_error=False)), Depends(APIKeyHeader(name="X-API-Key", auto_error=False))]


@asynccontextmanager
async def lifespan(app: FastAPI):
    """The server's life: it serves; once uvicorn has answered the requests in flight, the
    database connections close."""
    yield
    app.state.service.close()


def create_app(gallery: Gallery, token: str | None = None, max_upload_mb: float = 10.0,
               warm: bool = True, max_batch: int = 16, *, host: str | None = None, allowed_hosts=(),
               allowed_origins=(), body_timeout: float = 30.0, expose_paths: bool = False) -> FastAPI:
    """The app serving ``gallery``. ``token``: required on every /v1 route when set (an empty
    one is a ValueError); ``warm``: load the models and the index now, not on the first
    request (now, not at start-up in ``lifespan``: a model that cannot load is a one-line
    error before the server starts); ``host``, ``allowed_hosts``, ``allowed_origins``: the
    site rules of :mod:`.guard`; ``body_timeout``: seconds a request body may take to
    arrive; ``expose_paths``: results show stored photo paths as they are (default: file
    names only, see :mod:`.photos`)."""
    token = valid_token(token)
    if warm:
        gallery.warm_up()
    app = FastAPI(title="facesearch", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.service = Service(gallery, max_batch, expose_paths)
    app.state.reembedding = reembed_routes.Reembedding(app.state.service, expose_paths)  # its jobs
    install_docs(app)  # /docs and /redoc with their assets served locally (FastAPI's use a CDN)
    install(app, hidden=(gallery.store.label, str(gallery.db_path)))
    app.add_middleware(RequestContext, max_body=int(max_upload_mb * (1 << 20)), token=token,
                       policy=SitePolicy(host, allowed_hosts, allowed_origins), body_timeout=body_timeout)
    app.add_middleware(AuditActor, token=token)  # outermost: the audit log names the token of every request
    for area in ROUTERS:
        app.include_router(area.router, prefix="/v1", dependencies=TOKEN_SCHEMES if token else [], responses=ERRORS)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app
