"""uvicorn's h11 protocol with a deadline for request headers.

uvicorn bounds idle keep-alive connections only after a first response, and its request
headers may trickle in for ever, so a few slow clients could hold every connection slot
(slowloris).  Here each connection must deliver complete request headers within
``header_timeout_s`` of opening (or of the previous response), else it is closed.  The body
has its own deadline in the application (:mod:`~.body`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


def bounded_h11(header_timeout_s: float) -> type[H11Protocol]:
    """An :class:`H11Protocol` class closing connections whose headers come too late."""

    class BoundedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _armed_cycle: Any = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self._header_timer is not None and self.cycle is not self._armed_cycle:
                self._header_timer.cancel()  # a new request's headers are complete
                self._header_timer = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._armed_cycle = self.cycle
            self._header_timer = self.loop.call_later(header_timeout_s, self._expired)

        def _expired(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return BoundedH11Protocol
