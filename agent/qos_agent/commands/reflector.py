"""``qos-agent reflector``: a STAMP Session-Reflector (RFC 8762 §4.3, RFC 5357 App. I).

Answers STAMP and TWAMP-Light test packets so that any ``stamp`` collector (or a router's
TWAMP-Light sender) can measure two-way delay and loss per direction to this host.

* ``--mode stateful`` (default) keeps its own sequence counter per session, so a sender can
  tell forward from backward loss; ``--mode stateless`` copies the sender's sequence number
  (RFC 8762 §4.2), as a TWAMP-Light responder without session state must (RFC 5357 App. I).

* Binds ``127.0.0.1`` unless ``--bind`` says otherwise: exposing a reflector on a public
  interface is a decision, not a default.
* Port: RFC 8762 §4.1 default 862 when running with the privilege to bind it; otherwise a
  port must be given (e.g. ``--port 8620``; ``--port 0`` picks a free one).
* By default answers only requests of at least the 44-octet STAMP base packet, at their
  own size: shorter ones (an unpadded TWAMP-Light sender sends 14) are ignored, counted,
  and logged once per source and minute.  ``--accept-short`` answers requests of
  14–43 octets (14–40 with the 44-octet base packet, 41–43 at their own size),
  rate-limited per source by ``--short-rate-limit``: every reply is then at most
  max(request, 44) octets.
* Rate-limits per source address and forgets sessions silent for REFWAIT (default 900 s,
  RFC 5357 §4.2).
* Prints ``listening on ADDR:PORT`` once ready, logs its mode to stderr; stops cleanly on
  SIGTERM/SIGINT and prints its mode and counters.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from types import FrameType

from qos.errors import ConfigError
from qos.units import parse_duration_s
from qos_agent.commands.common import configure_logging
from qos_agent.stamp.reflector import (
    DEFAULT_PORT,
    MODES,
    REFWAIT_S,
    Reflector,
    ReflectorConfig,
    ReflectorServer,
)

_DEFAULTS = ReflectorConfig()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reflector",
        help="run a STAMP/TWAMP-Light reflector (reference server)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; '::' or 0.0.0.0 to expose)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"UDP port (default {DEFAULT_PORT} when privileged; 0 = any free port)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=_DEFAULTS.rate_limit_pps,
        metavar="PPS",
        help="packets per second accepted per source address",
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=_DEFAULTS.burst,
        help="token-bucket depth per source address (packets)",
    )
    parser.add_argument(
        "--refwait",
        default=f"{REFWAIT_S:g}s",
        help="forget a session after this much silence (default 900s)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=_DEFAULTS.max_sessions,
        help="sessions kept at most (least recently used are evicted)",
    )
    parser.add_argument(
        "--max-sessions-per-source",
        type=int,
        default=None,
        help="sessions one source address may hold (default: --max-sessions / 16); beyond "
        "it that address's own oldest session is evicted",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=_DEFAULTS.mode,
        help="stateful: own sequence counter per session (loss per direction); "
        "stateless: copy the sender's sequence number (RFC 8762 §4.2)",
    )
    parser.add_argument(
        "--accept-short",
        action="store_true",
        help="answer requests of 14-43 octets (TWAMP-Light senders) with replies of at most "
        "max(request, 44) octets, rate-limited per source; by default requests under 44 "
        "octets are ignored (amplification)",
    )
    parser.add_argument(
        "--short-rate-limit",
        type=float,
        default=_DEFAULTS.short_rate_limit_pps,
        metavar="PPS",
        help="with --accept-short: short requests answered per second per source address "
        f"(burst {_DEFAULTS.short_burst})",
    )


def _privileged() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def resolve_port(port: int | None) -> int:
    """Port to bind: the given one, else 862 when privileged, else a clear error."""
    if port is not None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"--port {port} is not a UDP port (0–65535)", file="command line")
        return port
    if _privileged():
        return DEFAULT_PORT
    raise ConfigError(
        f"the STAMP default port {DEFAULT_PORT} needs root; pass a port of your own, "
        "e.g. --port 8620 (RFC 8762 §4.1 allows user and dynamic ports), or --port 0",
        file="command line",
    )


def run(args: argparse.Namespace) -> int:
    configure_logging("INFO")
    try:
        config = ReflectorConfig(
            rate_limit_pps=args.rate_limit,
            burst=args.burst,
            refwait_s=parse_duration_s(args.refwait, default_unit="s"),
            max_sessions=args.max_sessions,
            max_sessions_per_source=args.max_sessions_per_source,
            mode=args.mode,
            accept_short=args.accept_short,
            short_rate_limit_pps=args.short_rate_limit,
        )
    except ValueError as exc:
        raise ConfigError(f"reflector limits: {exc}", file="command line") from exc
    port = resolve_port(args.port)
    try:
        server = ReflectorServer(args.bind, port, Reflector(config=config))
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {args.bind}:{port}: {exc}", file="command line"
        ) from exc

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        server.stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        print(f"listening on {server.target}", flush=True)
        logging.getLogger(__name__).info("%s", describe(config))
        server.serve()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.sock.close()
    stats = asdict(server.reflector.stats)
    print("stopped: " + " ".join(f"{k}={v}" for k, v in stats.items()), flush=True)
    return 0


def describe(config: ReflectorConfig) -> str:
    """One line saying how this reflector answers (mode and short-request policy)."""
    if config.accept_short:
        short = (
            "requests of 14-43 octets get replies of max(request, 44) octets "
            f"(at most {config.short_rate_limit_pps:g}/s per source)"
        )
    else:
        short = "requests under 44 octets are ignored (--accept-short answers them)"
    return f"mode {config.mode}: {short}"


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m qos_agent.commands.reflector``)."""
    parser = argparse.ArgumentParser(
        prog="qos-agent reflector",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        print(f"qos-agent reflector: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
