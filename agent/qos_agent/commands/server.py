"""``qos-agent server``: run the HTTP reference server in the foreground.

Binds to loopback unless ``--bind`` says otherwise, prints the URL it serves, and stops
cleanly on SIGTERM or SIGINT (exit 0).  Limits (bytes per request, connections, timeouts)
are flags so that a public deployment can tighten them.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from qos.errors import ConfigError
from qos.units import parse_size_bytes
from qos_agent.commands import server_integrity
from qos_agent.refserver.limits import DEFAULT_MAX_REQUEST_BYTES, ServerLimits


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "server",
        help="run the HTTP reference server (download, upload, latency, speedtest endpoints)",
        description="Serve the reference HTTP endpoints used by the http_throughput and "
        "speedtest collectors. Binds to 127.0.0.1 unless --bind is given.",
    )
    parser.add_argument("--bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0: any)")
    parser.add_argument(
        "--max-request-size",
        default=str(DEFAULT_MAX_REQUEST_BYTES),
        help="largest download or upload per request, e.g. 1GiB (default)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=32,
        help="simultaneous connections before replying 503 (default 32)",
    )
    parser.add_argument(
        "--io-timeout",
        type=float,
        default=10.0,
        help="seconds without progress before a connection is dropped",
    )
    parser.add_argument(
        "--max-request-duration",
        type=float,
        default=120.0,
        help="seconds any single request may last",
    )
    parser.add_argument(
        "--speedtest-test-length",
        type=int,
        default=10,
        help="test length (s) the speedtest config advertises (default 10)",
    )
    parser.add_argument(
        "--max-connections-per-source",
        type=int,
        default=None,
        help="simultaneous connections from one address (default: half of --max-connections)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a request line and its headers may take in all (default 10)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    server_integrity.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise ConfigError(f"--port {args.port} is out of range (0-65535)")
    try:
        limits = ServerLimits(
            max_request_bytes=int(parse_size_bytes(args.max_request_size, default_unit="B")),
            max_connections=args.max_connections,
            io_timeout_s=args.io_timeout,
            max_request_duration_s=args.max_request_duration,
            speedtest_test_length_s=args.speedtest_test_length,
            max_connections_per_source=args.max_connections_per_source,
            header_timeout_s=args.header_timeout,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid server limit: {exc}") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Handlers before anything announces itself: a supervisor (or a test) that stops the
    # server as soon as it has read a URL must get the clean shutdown, not the default kill.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _serve(args, limits, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("qos-agent server: stopped", flush=True)
    return 0


def _serve(args: argparse.Namespace, limits: ServerLimits, stop: threading.Event) -> None:
    """Start the reference server (and the integrity reference if asked), announce them and
    serve until ``stop`` is set."""
    from qos_agent.refserver.server import ReferenceHttpServer, serve_until_signalled

    try:
        server = ReferenceHttpServer((args.bind, args.port), limits, verbose=args.verbose)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.bind} port {args.port}: {exc}") from None
    try:
        stop_integrity = server_integrity.start(args)
    except ConfigError:
        server.server_close()
        raise
    host = f"[{args.bind}]" if ":" in args.bind else args.bind
    print(f"qos-agent server: serving http://{host}:{server.port}/ (Ctrl-C to stop)", flush=True)
    try:
        serve_until_signalled(server, stop)
    finally:
        stop_integrity()
