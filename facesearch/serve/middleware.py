"""What every request goes through before a route sees it, as plain ASGI middleware:

- a request id: the client's ``X-Request-ID`` if it is sane, else a new one; echoed in the
  response's ``X-Request-ID`` and in error bodies, and logged with the outcome;
- the site rules (:mod:`.guard`): an unknown ``Host`` gets 400, a cross-origin write 403;
- the token: with one set, a ``/v1`` request without ``Authorization: Bearer <token>`` (or
  ``X-API-Key``) gets 401 before its body is read;
- the upload limit: a body announced larger than the limit gets 413 before a byte of it is
  read; the body is read within a size limit and a deadline (:mod:`.body`), and what a
  response leaves unread is drained before the connection closes.
"""
from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from .body import CLOSE, Body, too_large
from .errors import envelope
from .guard import SitePolicy

log = logging.getLogger("facesearch.serve")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PROTECTED = "/v1/"


def valid_token(token: str | None) -> str | None:
    """``token`` if it can protect the server (None: no token asked for); ValueError if it is
    empty or blank (that would serve with no authentication) or cannot travel in a header."""
    if token is None:
        return None
    if not token.strip():
        raise ValueError("the token is empty: an empty token would leave the server open to anyone "
                         "(give a real token, or none)")
    if token != token.strip() or not token.isprintable():
        raise ValueError("the token starts or ends with whitespace or holds control characters "
                         "(HTTP headers cannot carry it intact)")
    return token


def token_given(headers: dict) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key")


class RequestContext:
    def __init__(self, app, max_body: int, token: str | None = None, policy: SitePolicy | None = None,
                 body_timeout: float = 30.0):
        self.app, self.max_body, self.token, self.body_timeout = app, max_body, token, body_timeout
        self.policy = policy or SitePolicy()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        body = Body(receive, headers, self.max_body, self.body_timeout)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"x-request-id" not in names:
                    message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body") and body.needs_drain:
                # the answer is out; read the rest of the body before the connection may close
                await send({**message, "more_body": True})
                await body.drain()
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        try:
            refusal = self._refusal(scope, headers, rid)
            if refusal is not None:
                return await refusal(scope, body.receive, send_with_id)
            await self.app(scope, body.receive, send_with_id)
        finally:
            log.info("%s %s -> %s in %.1f ms (request %s)", scope.get("method"), scope.get("path"), status[0],
                     (time.perf_counter() - start) * 1000, rid)

    def _refusal(self, scope, headers: dict, rid: str):
        """The 400, 403, 401 or 413 response a request gets before its body is read, or None."""
        refused = self.policy.refusal(scope.get("method", ""), headers)
        if refused is not None:
            return envelope(*refused, rid, CLOSE)
        if self.token and scope.get("path", "").startswith(PROTECTED):
            given = token_given(headers)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                why = "no token given" if given is None else "wrong token"
                return envelope(401, "unauthorized", f"{why}: send `Authorization: Bearer <token>`", rid,
                                {"WWW-Authenticate": "Bearer", **CLOSE})
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return envelope(413, "payload_too_large", too_large(f"{int(length) / (1 << 20):.1f} MB", self.max_body),
                            rid, CLOSE)
        return None
