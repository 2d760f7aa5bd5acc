"""Errors as HTTP: one envelope, one table from facesearch's errors to statuses, request ids.

Every error response is ``{"error": {"code", "message", "request_id"}}`` (the id also in
``X-Request-ID``, see :mod:`.middleware`). A 4xx :class:`~facesearch.errors.FacesearchError` keeps its
message (written for users, about their request); a 5xx one (the database or a model failed)
names the server's inside (a database URL, a file), so it goes to the log and the client
gets the request id. Anything else is a bug: logged with its traceback on the server,
answered with a 500 that names the request id and nothing more.
"""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import ConflictError, DataError, FacesearchError, GalleryError, ImageError, NotFoundError

log = logging.getLogger("facesearch.serve")

# First match wins: the most specific kinds first.
STATUS: list[tuple[type, int, str]] = [
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (ImageError, 422, "invalid_image"),
    (GalleryError, 400, "refused"),
    (DataError, 400, "refused"),
    (FacesearchError, 500, "server_error"),  # the database or model cannot serve (message says why)
]
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 408: "request_timeout", 409: "conflict", 413: "payload_too_large",
              422: "invalid_image"}


def status_of(error: FacesearchError) -> tuple[int, str]:
    return next((status, code) for kind, status, code in STATUS if isinstance(error, kind))


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


def envelope(status: int, code: str, message: str, rid: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "request_id": rid}}, status_code=status,
                        headers={"X-Request-ID": rid, **(headers or {})})


def install(app: FastAPI, hidden=()) -> None:
    """Register the handlers that turn every failure into the envelope. ``hidden``: strings
    (the database's path or URL) a message must not show; they read "the gallery database"."""
    hidden = sorted({h for h in hidden if h}, key=len, reverse=True)

    def scrubbed(message: str) -> str:
        for h in hidden:
            message = message.replace(h, "the gallery database")
        return message

    @app.exception_handler(FacesearchError)
    async def facesearch_error(request: Request, exc: FacesearchError):
        status, code = status_of(exc)
        rid = request_id(request)
        if status >= 500:  # the message names the database (its URL), a file or a library's words: log only
            log.error("request %s: %s", rid, exc)
            return envelope(status, code, f"the server cannot serve this request (database or model; request id "
                            f"{rid}): the server log has the details", rid)
        return envelope(status, code, scrubbed(str(exc)), rid)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", "invalid"))
        return envelope(400, "bad_request", "; ".join(parts) or "invalid request", request_id(request))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return envelope(exc.status_code, code, message, request_id(request), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):  # the traceback goes to the log, never to the client
        rid = request_id(request)
        log.exception("request %s failed", rid)
        return envelope(500, "internal_error", f"internal error (request id {rid}); the server log has the details",
                        rid)
