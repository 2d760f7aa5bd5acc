"""What every request goes through before a route sees it, as plain ASGI middleware:

- a request id: the client's ``X-Request-ID`` if it is sane, else a new one; echoed in the
  response's ``X-Request-ID`` and in error bodies, and logged with the outcome;
- the token: with one set, a ``/v1`` request without ``Authorization: Bearer <token>`` (or
  ``X-API-Key``) gets 401 before its body is read;
- the upload limit: a body announced larger than the limit gets 413 before a byte of it is
  read; a body that turns out larger (chunked) stops being read at the limit.
"""
from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException

from .errors import envelope

log = logging.getLogger("facesearch.serve")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PROTECTED = "/v1/"


def token_given(headers: dict) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key")


class RequestContext:
    def __init__(self, app, max_body: int, token: str | None = None):
        self.app, self.max_body, self.token = app, max_body, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"x-request-id" not in names:
                    message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            refusal = self._refusal(scope, headers, rid)
            if refusal is not None:
                return await refusal(scope, receive, send_with_id)
            await self.app(scope, self._limited(receive), send_with_id)
        finally:
            log.info("%s %s -> %s in %.1f ms (request %s)", scope.get("method"), scope.get("path"), status[0],
                     (time.perf_counter() - start) * 1000, rid)

    def _refusal(self, scope, headers: dict, rid: str):
        """The 401 or 413 response a request gets before its body is read, or None."""
        if self.token and scope.get("path", "").startswith(PROTECTED):
            given = token_given(headers)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                why = "no token given" if given is None else "wrong token"
                return envelope(401, "unauthorized", f"{why}: send `Authorization: Bearer <token>`", rid,
                                {"WWW-Authenticate": "Bearer", "Connection": "close"})
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return envelope(413, "payload_too_large", self._too_large(f"{int(length) / (1 << 20):.1f} MB"), rid,
                            {"Connection": "close"})
        return None

    def _limited(self, receive):
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:  # FastAPI re-raises an HTTPException met while reading a form
                    raise HTTPException(413, self._too_large(f"more than {self.max_body / (1 << 20):g} MB"),
                                        headers={"Connection": "close"})
            return message

        return limited_receive

    def _too_large(self, got: str) -> str:
        return f"upload too large ({got}; this server accepts up to {self.max_body / (1 << 20):g} MB: --max-upload-mb)"
