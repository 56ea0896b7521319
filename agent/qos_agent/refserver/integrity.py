"""The integrity reference: HTTP echo, port listeners, TLS with a pinned key, DNS zone.

:func:`start_integrity_reference` starts the four services on one address (loopback unless
told otherwise) and serves their description at ``GET /manifest`` of the echo server,
whose URL is the target of every integrity collector (``@reference/integrity``).  The
manifest says which ports really listen (banner ports, and ``tcp_services``: the echo and
TLS ports, which answer without a banner), so a client can tell "closed on the server" from
"blocked on the way", where the DNS zone is served and the TLS certificate's SPKI pin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qos_agent.integrity.known import KNOWN_SHA256, ZONE_ORIGIN
from qos_agent.reference import RunningService
from qos_agent.refserver.dnszone import start_zone_server
from qos_agent.refserver.echo import EchoServer, serve_in_thread
from qos_agent.refserver.ports import bind_ports, serve_ports
from qos_agent.refserver.tlsref import TlsReferenceServer

MANIFEST_VERSION = 1


@dataclass
class IntegrityReference:
    """The running services; ``url`` is the echo server (and manifest) address."""

    url: str
    manifest: dict[str, Any]
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()


def start_integrity_reference(
    bind: str = "127.0.0.1",
    *,
    http_port: int = 0,
    tls_port: int = 0,
    dns_port: int = 0,
    tcp_ports: tuple[int, ...] = (),
    udp_ports: tuple[int, ...] = (),
    ephemeral_ports: int = 2,
) -> IntegrityReference:
    """Start every integrity service on ``bind`` (``0`` ports: any free port)."""
    stops: list[Callable[[], None]] = []
    try:
        listeners = bind_ports(bind, list(tcp_ports), list(udp_ports), ephemeral_ports)
        stops.append(serve_ports(listeners))
        bound_dns, stop_dns = start_zone_server(bind, dns_port)
        stops.append(stop_dns)
        tls = TlsReferenceServer((bind, tls_port))
        stops.append(serve_in_thread(tls, f"qos-refserver-tls-{tls.port}"))
        manifest: dict[str, Any] = {}
        echo = EchoServer((bind, http_port), lambda: manifest)
        manifest.update(
            {
                "service": "qos-toolkit integrity reference",
                "version": MANIFEST_VERSION,
                "tcp_listening": sorted(listeners.tcp),
                "udp_echo": sorted(listeners.udp),
                "tcp_services": sorted({echo.port, tls.port}),
                "unavailable": listeners.unavailable,
                "dns": {"port": bound_dns, "zone": ZONE_ORIGIN},
                "tls": tls.description(),
                "known_sha256": KNOWN_SHA256,
            }
        )
        stops.append(serve_in_thread(echo, f"qos-refserver-echo-{echo.port}"))
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise
    host = f"[{bind}]" if ":" in bind else bind
    return IntegrityReference(f"http://{host}:{echo.port}", manifest, stops)


def start_integrity_service(bind: str = "127.0.0.1") -> RunningService:
    """Entry for :mod:`qos_agent.reference` (``@reference/integrity``)."""
    running = start_integrity_reference(bind)
    return RunningService(target=running.url, stop=running.stop)
