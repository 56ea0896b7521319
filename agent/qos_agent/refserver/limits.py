"""Bounds of the reference server: sizes, durations, concurrency.

A public-facing measurement server must not be an amplifier nor a thread sink: every
request has a byte ceiling, every socket operation an idle timeout, every request a
wall-clock ceiling, every request head an overall deadline, and the number of
simultaneous connections is capped, in total and per client address (excess connections
get ``503 Service Unavailable`` with ``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: 1 GiB: large enough that a 4-stream test at 10 Gbit/s re-requests only a few times/s
DEFAULT_MAX_REQUEST_BYTES = 1 << 30


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Limits applied per request and per server."""

    #: largest download (``/download?bytes=N``) or upload body a single request may move
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    #: simultaneous connections; one more is answered ``503`` and closed
    max_connections: int = 32
    #: a socket read/write that makes no progress for this long ends the connection
    io_timeout_s: float = 10.0
    #: no request may take longer than this, however slowly the client reads or writes
    max_request_duration_s: float = 120.0
    #: speedtest.net config advertised to speedtest-cli: test length per direction
    speedtest_test_length_s: int = 10
    #: simultaneous connections from one address (None: half of ``max_connections``, room
    #: for an 8-thread speedtest client or a household behind one NAT address), so that one
    #: slow or greedy address cannot take every slot
    max_connections_per_source: int | None = None
    #: a request line and its headers must arrive within this long, however steadily the
    #: client trickles them (the idle timeout alone would let a byte every few seconds
    #: hold a connection for ever)
    header_timeout_s: float = 10.0

    @property
    def per_source(self) -> int:
        """The effective per-address connection limit."""
        if self.max_connections_per_source is not None:
            return self.max_connections_per_source
        return max(1, self.max_connections // 2)

    def __post_init__(self) -> None:
        if self.max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        if self.max_connections <= 0:
            raise ValueError("max_connections must be positive")
        if not self.io_timeout_s > 0 or not self.max_request_duration_s > 0:
            raise ValueError("timeouts must be positive")
        if self.speedtest_test_length_s <= 0:
            raise ValueError("speedtest_test_length_s must be positive")
        if not self.header_timeout_s > 0:
            raise ValueError("header_timeout_s must be positive")
        per_source = self.max_connections_per_source
        if per_source is not None and not 0 < per_source <= self.max_connections:
            raise ValueError("max_connections_per_source must lie in 1..max_connections")
