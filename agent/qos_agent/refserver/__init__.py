"""Reference HTTP throughput server (BEREC BoR (17) 178; docs/methods.md §8.1, §12.7).

A measurement is only as good as its far end.  Regulators test against servers they
control (BEREC BoR (17) 178, docs/methods.md §8.1), so the toolkit ships one: a standard-library
HTTP/1.1 server with a streaming download of incompressible random bytes, a discarding
upload sink, a tiny latency endpoint and the speedtest.net "mini" endpoint set that
speedtest-cli understands (§12.7).  Request sizes, durations and concurrency are bounded
so that the server cannot be turned into a traffic amplifier, and it binds to loopback
unless told otherwise.

Modules: :mod:`.limits` (the bounds), :mod:`.payload` (one random block sent in large
writes), :mod:`.speedtest_compat` (speedtest.net file sizes and config XML), :mod:`.handler`
(the routes) and :mod:`.server` (threaded server, statistics, start/stop helpers).  The
framing shared with the clients is :mod:`qos_agent.net.http_wire`.
"""

from __future__ import annotations

from qos_agent.refserver.limits import ServerLimits
from qos_agent.refserver.server import (
    ReferenceHttpServer,
    RunningHttpServer,
    ServerStats,
    start_http_server,
    start_reference_service,
)

__all__ = [
    "ReferenceHttpServer",
    "RunningHttpServer",
    "ServerLimits",
    "ServerStats",
    "start_http_server",
    "start_reference_service",
]
