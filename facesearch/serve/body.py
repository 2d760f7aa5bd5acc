"""Reading a request body within bounds: a size limit, a deadline, and a bounded drain.

- Size: a body that turns out larger than the limit (chunked, or a lying Content-Length)
  stops being read at the limit (413).
- Time: the whole body must arrive within ``timeout`` seconds of the request's start; a
  client that announces 100,000 bytes and sends 100 gets 408 and the connection is closed,
  instead of holding it open for ever.
- Drain: a response sent before the body was read (401, 413, a refused origin, a route that
  never reads it) would be followed by the server closing the connection while the client
  is still sending; its TCP stack then resets the connection and many clients (Python's
  urllib, which sends the whole body before it reads) never see the answer. So, as RFC 9112
  section 9.6 advises, the body is read and discarded before the connection closes: up to
  ``DRAIN_BYTES`` and ``DRAIN_SECONDS``, after which the server closes anyway.
"""
from __future__ import annotations

import asyncio
import time

from starlette.exceptions import HTTPException

DRAIN_BYTES = 64 << 20
DRAIN_SECONDS = 10.0
CLOSE = {"Connection": "close"}


class Body:
    """The ``receive`` of one request, bounded; :meth:`drain` discards what is left."""

    def __init__(self, receive, headers: dict, limit: int, timeout: float):
        self._receive, self.limit, self.timeout = receive, limit, timeout
        self.deadline = time.monotonic() + timeout
        self.seen = 0
        self.received_any = False
        self.timed_out = False
        length = headers.get("content-length", "").strip()
        self.done = not ((length.isdigit() and int(length) > 0) or "transfer-encoding" in headers)
        self.expects_continue = headers.get("expect", "").strip().lower() == "100-continue"

    async def _next(self, until: float) -> dict:
        left = until - time.monotonic()
        if left <= 0:
            raise TimeoutError
        message = await asyncio.wait_for(self._receive(), left)
        self.received_any = True
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.done = True
        return message

    async def receive(self) -> dict:
        if self.done:  # nothing left to wait for (a disconnect, or ASGI's end-of-body answer)
            return await self._receive()
        try:
            message = await self._next(self.deadline)
        except TimeoutError:
            self.timed_out = True
            raise HTTPException(408, f"request body not received within {self.timeout:g} s (--body-timeout)",
                                headers=CLOSE) from None
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:  # FastAPI re-raises an HTTPException met while reading a form
                raise HTTPException(413, too_large(f"more than {self.limit / (1 << 20):g} MB", self.limit),
                                    headers=CLOSE)
        return message

    @property
    def needs_drain(self) -> bool:
        """Body bytes are still on their way (and the client is not waiting for a 100 Continue)."""
        return not self.done and not self.timed_out and (self.received_any or not self.expects_continue)

    async def drain(self) -> None:
        """Read and discard the rest of the body, within the drain bounds and the deadline."""
        until = min(time.monotonic() + DRAIN_SECONDS, self.deadline)
        left = DRAIN_BYTES
        while not self.done and left > 0:
            try:
                message = await self._next(until)
            except TimeoutError:
                return
            left -= len(message.get("body", b""))


def too_large(got: str, limit: int) -> str:
    return f"upload too large ({got}; this server accepts up to {limit / (1 << 20):g} MB: --max-upload-mb)"
