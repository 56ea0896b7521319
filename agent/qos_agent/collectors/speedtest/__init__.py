"""speedtest collector: speedtest-cli 2.1.3 as a library (docs/methods.md §12.7).

The target is a self-hosted speedtest "mini" server (``http://host:port/``, e.g. the
reference server, ``@reference/http``) or ``auto`` for speedtest.net's public servers, of
which the one with the lowest HTTP latency among the five nearest is chosen (speedtest-cli's
``get_best_server``).  speedtest-cli's constructor always downloads speedtest.net's config,
so it fails offline; :func:`~.library.speedtest_class` builds a subclass whose
``get_config`` reads the config from the mini server (``/speedtest/speedtest-config.php``),
falling back to speedtest.net's published defaults when a mini server has none (§12.7).

Traffic is speedtest-cli's: 8 threads (2 × the config's ``threadcount``) download the
``random*.jpg`` files, 8 threads upload (speedtest-cli's own count after a download),
each request on a new connection, for the config's test length.  One change, for upload
only (``upload_scheduling``, default ``continuous``): a new request starts as soon as any
running one ends, instead of speedtest-cli's FIFO join, which starts one only after the
*oldest* ended.  Lab evidence (50 Mbit/s tbf, 50 ms queue, host default congestion control
BBR, kernel 6.18): each burst of 8 new connections in BBR's startup overflowed the queue
(7-15 % of packets dropped vs ~1 % for iperf3's 4 long flows); some connections left
startup with a bandwidth estimate of 1-5 Mbit/s (and a bogus min RTT of 23-50 µs, which
all but disables BBR's probing) and stayed *pacing*-limited for seconds — no RTO backoff,
no loss, window open, data waiting in the send buffer, the server reading at once
(Recv-Q 0).  With the FIFO join the other slots then sat empty (1 request in flight,
0.8-3 Mbit/s on the link for up to 2.5 s) and goodput read 0.57-0.92 of iperf3's in 6 of
22 runs; with CUBIC on the same sockets (6 of 6 runs) or with continuous scheduling (9 of
9) every run was within 1.2 %.  speedtest-cli's ``threads`` means "this many requests in
flight" (its ``in_flight`` counter); continuous scheduling keeps exactly that, with the
same requests (sizes, order, bodies, test-length cut-off) and the same counting; ``fifo``
reproduces speedtest-cli exactly.  ``download_scheduling`` does the same for downloads
(default ``continuous`` as for uploads: it kept a 50 Mbit/s lab link full under CPU load
where the FIFO join left it idle for up to half a second; ``fifo`` is speedtest-cli's
own).  Its own figure — all bytes over the time until every thread stopped, slow start
and shutdown tail included — is kept as ``details["speedtest_cli_bps"]``.
``goodput_bps`` is ours, measured as for ``http_throughput`` (BEREC practice,
docs/methods.md §8.1): aggregate bytes are sampled every ``interval`` (intervals with
``stream=-1``) and the goodput is the bytes between the end of ``warmup`` and the end of
the test length over that time (:func:`measurement_window`).
Download counts body bytes read; upload counts bytes the server's TCP acknowledged,
cumulatively or by SACK (``TCP_INFO``; :meth:`~.accounting.TrackedConnection.current`),
not bytes handed to ``http.client``, which include full socket buffers.
Data requests that time out, reset or end short — speedtest-cli silently counts them as
zero bytes — make the record ``timeout``/``error``; the partial figures stay in ``details``.

Its "ping" is half the mean time of three HTTP GETs of ``latency.txt`` including TCP
connect — **not** an RTT (§12.7) — so it is stored as
``details["speedtest_latency_figure_s"]`` and never as an RTT result.

Public servers block frequent clients: runs against one server are spaced by at least
``min_interval`` (skipped records say so), and an HTTP 403 or 429 starts an exponential
backoff (honouring ``Retry-After``), both persisted in a small JSON state file.

Modules: :mod:`.config` (the speedtest.net config document, mini-server URL, thread counts),
:mod:`.accounting` (bytes moved and acknowledged, the measured window), :mod:`.library`
(speedtest-cli imported and adapted), :mod:`.backoff` (run history, min interval, backoff)
and :mod:`.collector` (the collector and one run's orchestration).
"""

from __future__ import annotations

from qos_agent.collectors.speedtest.accounting import measurement_window
from qos_agent.collectors.speedtest.backoff import RunState, default_state_path
from qos_agent.collectors.speedtest.collector import LATENCY_NOTE, SpeedtestCollector
from qos_agent.collectors.speedtest.config import default_threads, mini_base_url, parse_config_xml
from qos_agent.collectors.speedtest.library import import_speedtest

__all__ = [
    "LATENCY_NOTE",
    "RunState",
    "SpeedtestCollector",
    "default_state_path",
    "default_threads",
    "import_speedtest",
    "measurement_window",
    "mini_base_url",
    "parse_config_xml",
]
