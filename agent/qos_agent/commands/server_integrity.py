"""``qos-agent server --integrity``: also serve the integrity reference next to the HTTP one.

The integrity reference (HTTP echo and manifest, TCP/UDP port listeners, TLS with a
pinned key, the DNS zone) binds to the same address as the HTTP server.  The manifest URL
and the certificate pin are printed so that they can be written into the agents'
configuration (``tls_integrity``'s ``pin_sha256``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from qos.errors import ConfigError
from qos_agent.integrity.known import DEFAULT_TCP_PORTS, DEFAULT_UDP_PORTS


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("integrity reference")
    group.add_argument(
        "--integrity", action="store_true", help="also serve the integrity reference"
    )
    group.add_argument("--integrity-port", type=int, default=0, help="echo/manifest TCP port")
    group.add_argument("--tls-port", type=int, default=0, help="TLS reference port")
    group.add_argument("--dns-port", type=int, default=0, help="DNS zone UDP port")
    group.add_argument(
        "--listen-tcp",
        default=",".join(map(str, DEFAULT_TCP_PORTS)),
        help="TCP ports to listen on for port_reachability (comma-separated)",
    )
    group.add_argument(
        "--listen-udp",
        default=",".join(map(str, DEFAULT_UDP_PORTS)),
        help="UDP ports to echo on for port_reachability (comma-separated)",
    )


def start(args: argparse.Namespace) -> Callable[[], None]:
    """Start the integrity reference if asked; returns its stop function (or a no-op)."""
    if not args.integrity:
        return lambda: None
    from qos_agent.collectors.port_reachability import parse_ports
    from qos_agent.refserver.integrity import start_integrity_reference

    try:
        running = start_integrity_reference(
            args.bind,
            http_port=args.integrity_port,
            tls_port=args.tls_port,
            dns_port=args.dns_port,
            tcp_ports=tuple(parse_ports(args.listen_tcp)),
            udp_ports=tuple(parse_ports(args.listen_udp)),
            ephemeral_ports=0,
        )
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot start the integrity reference: {exc}") from None
    manifest = running.manifest
    print(f"qos-agent server: integrity reference {running.url}/manifest", flush=True)
    print(f"  tls port {manifest['tls']['port']}, pin_sha256 {manifest['tls']['spki_sha256']}")
    print(f"  dns zone {manifest['dns']['zone']} on udp port {manifest['dns']['port']}")
    if manifest["unavailable"]:
        skipped = ", ".join(f"{k} ({v})" for k, v in sorted(manifest["unavailable"].items()))
        print(f"  not listening on: {skipped}", flush=True)
    return running.stop
