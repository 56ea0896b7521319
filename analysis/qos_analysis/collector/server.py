"""Serve the collector with uvicorn: loopback by default, TLS required elsewhere.

A non-loopback bind without ``--tls-cert``/``--tls-key`` is refused unless ``--insecure`` is
given: tokens travel in a header and would be readable on the network.  The listening
socket is bound here (so ``--port 0`` works and the real port is printed) and handed to
uvicorn.  Slow clients are bounded three ways: request headers within ``header_timeout_s``
(:mod:`~.protocol`), the body within ``body_timeout_s`` (the application), idle keep-alive
connections after 5 s (uvicorn); at most 256 connections are served at once.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from qos.errors import ConfigError
from qos.netaddr import is_loopback_host
from qos_analysis.collector.body import Limits


@dataclass(frozen=True)
class ServeOptions:
    dataset: Path
    tokens: Path
    bind: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    limits: Limits = field(default_factory=Limits)


def check_bind(opts: ServeOptions) -> None:
    if (opts.tls_cert is None) != (opts.tls_key is None):
        raise ConfigError("give both --tls-cert and --tls-key, or neither")
    if not is_loopback_host(opts.bind) and opts.tls_cert is None and not opts.insecure:
        raise ConfigError(
            f"refusing to listen on {opts.bind} without TLS: agents' tokens would cross the "
            "network in clear; give --tls-cert/--tls-key (or --insecure to accept the risk)"
        )


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(512)
    return sock


def serve(opts: ServeOptions) -> None:
    import uvicorn

    from qos_analysis.collector.app import create_app
    from qos_analysis.collector.protocol import bounded_h11

    check_bind(opts)
    app = create_app(opts.dataset, opts.tokens, opts.limits)
    if not opts.tokens.is_file():
        print(
            f"qos collector: warning: {opts.tokens} does not exist yet; every push is refused "
            "until `qos collector token add` creates a token",
            file=sys.stderr,
        )
    sock = bind_socket(opts.bind, opts.port)
    host, port = sock.getsockname()[:2]
    scheme = "https" if opts.tls_cert else "http"
    print(f"qos collector: listening on {scheme}://{host}:{port}", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app,
        http=bounded_h11(opts.limits.header_timeout_s),
        ssl_certfile=str(opts.tls_cert) if opts.tls_cert else None,
        ssl_keyfile=str(opts.tls_key) if opts.tls_key else None,
        timeout_keep_alive=5,
        limit_concurrency=256,
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
