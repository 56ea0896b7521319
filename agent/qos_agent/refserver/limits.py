"""Bounds of the reference server: sizes, durations, concurrency.

A public-facing measurement server must not be an amplifier nor a thread sink: every
request has a byte ceiling, every socket operation an idle timeout, every request a
wall-clock ceiling, and the number of simultaneous connections is capped (excess
connections get ``503 Service Unavailable`` with ``Retry-After``).
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

    def __post_init__(self) -> None:
        if self.max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        if self.max_connections <= 0:
            raise ValueError("max_connections must be positive")
        if not self.io_timeout_s > 0 or not self.max_request_duration_s > 0:
            raise ValueError("timeouts must be positive")
        if self.speedtest_test_length_s <= 0:
            raise ValueError("speedtest_test_length_s must be positive")
