"""uvicorn's HTTP/1.1 protocol with a deadline on request headers.

uvicorn bounds the idle time between requests (keep-alive, 5 s) but not a request whose
headers never finish: a client that sends ``POST /v1/search HTTP/1.1\\r\\nHost: loc`` and
stops holds its connection for ever, and any byte it sends later cancels the keep-alive
timer. Here the headers of each request must be complete within ``header_timeout`` seconds
of the connection opening (or of the previous response); else the connection is closed.
The body has its own deadline (:mod:`.body`).
"""
from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0


def with_header_timeout(seconds: float) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.run(..., http=...)``."""
    return type("HeaderDeadlineH11", (HeaderDeadlineH11,), {"header_timeout": seconds})


class HeaderDeadlineH11(H11Protocol):
    header_timeout = HEADER_SECONDS
    _clock = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        self._arm()  # before: a pipelined request may start inside, and stop the clock
        super().on_response_complete()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers are in
            self._stop()

    def connection_lost(self, exc) -> None:
        self._stop()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._stop()
        self._clock = self.loop.call_later(self.header_timeout, self._too_slow)

    def _stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def _too_slow(self) -> None:
        self._clock = None
        waiting = self.cycle is None or self.cycle.response_complete  # no request in progress
        if waiting and not self.transport.is_closing():
            self.transport.close()
