"""``qos collector serve|token``: the fleet collector and its per-agent tokens."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("collector", help="receive agents' pushes into a dataset")
    csub = p.add_subparsers(dest="action")
    s = csub.add_parser(
        "serve",
        help="serve POST /v1/measurements, /healthz and /metrics",
        description="Serve the collector (needs the 'collector' extra). Binds to loopback "
        "unless told otherwise; a non-loopback bind needs TLS or --insecure.",
    )
    s.add_argument("--dataset", required=True, type=Path, help="dataset directory to write")
    s.add_argument("--tokens", required=True, type=Path, help="token file (qos collector token)")
    s.add_argument("--bind", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s.add_argument("--port", type=int, default=8443, help="port (8443; 0 picks a free one)")
    s.add_argument("--tls-cert", type=Path, help="PEM certificate chain")
    s.add_argument("--tls-key", type=Path, help="PEM private key")
    s.add_argument("--insecure", action="store_true", help="allow a non-loopback bind without TLS")
    s.add_argument("--max-body", type=int, default=8 << 20, help="max body bytes (8 MiB)")
    s.add_argument("--max-inflated", type=int, default=64 << 20, help="max gunzipped bytes")
    s.add_argument("--max-records", type=int, default=10_000, help="max records per batch")
    s.add_argument("--body-timeout", type=float, default=30.0, help="seconds to send a body")
    s.add_argument(
        "--header-timeout", type=float, default=10.0, help="seconds to send request headers"
    )
    s.set_defaults(func=_serve)
    t = csub.add_parser("token", help="add or revoke an agent's token")
    tsub = t.add_subparsers(dest="token_action")
    for name, func, text in (
        ("add", _token_add, "create a token for an agent and print it once"),
        ("revoke", _token_revoke, "revoke an agent's token"),
    ):
        tp = tsub.add_parser(name, help=text)
        tp.add_argument("agent_id")
        tp.add_argument("--tokens", required=True, type=Path, help="token file")
        tp.set_defaults(func=func)


def _serve(args: argparse.Namespace) -> int:
    from qos_analysis.collector.body import Limits
    from qos_analysis.collector.server import ServeOptions, serve

    limits = Limits(
        args.max_body, args.max_inflated, args.max_records, args.body_timeout, args.header_timeout
    )
    serve(
        ServeOptions(
            dataset=args.dataset,
            tokens=args.tokens,
            bind=args.bind,
            port=args.port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            insecure=args.insecure,
            limits=limits,
        )
    )
    return 0


def _token_add(args: argparse.Namespace) -> int:
    from qos_analysis.collector.tokens import TokenFile

    token = TokenFile(args.tokens).add(args.agent_id)
    print(token)
    print("store this token now: it is shown only once", file=sys.stderr)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from qos_analysis.collector.tokens import TokenFile

    TokenFile(args.tokens).revoke(args.agent_id)
    return 0
