"""Collector ``port_reachability``: which ports does the path block, reset or redirect?

Target: the integrity reference's URL.  Its manifest lists the TCP ports it listens on (its
HTTP and TLS service ports are only connected to, they send no banner) and the UDP ports
it echoes on; every listed port is tested, plus the ``ports`` parameter
(commonly blocked ones by default) and ``extra_ports``.  Each TCP listener of the reference
sends a banner naming its port, each UDP echo prefixes its port, so the client knows who
answered.  Verdict per port (evidence: the errno or the bytes received):

==================  =================  ====================================================
reference listens   client sees        finding
==================  =================  ====================================================
yes                 its banner         none (open)
yes                 refused / reset    ``port_reset`` (a RST the server did not send)
yes                 silence            ``port_blocked`` (dropped on the way)
yes                 other bytes        ``port_rewritten`` (something else answered)
no                  refused            none (closed on the server)
no                  a connection       ``port_rewritten`` (answered in the server's place)
no                  silence            none; noted as ``filtered_closed`` in details
==================  =================  ====================================================

A manifest that cannot be fetched makes the measurement fail: no port is judged without
the reference's own listening list.
"""

from __future__ import annotations

import errno
import secrets
import socket
from collections.abc import Mapping
from typing import Any

from qos.records import Measurement, Status
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.integrity.findings import Finding, integrity_result
from qos_agent.integrity.known import DEFAULT_TCP_PORTS, tcp_banner, udp_reply
from qos_agent.integrity.manifest import ReferenceUnavailable, fetch_manifest, reference_host
from qos_agent.net.sockets import first_address

_RESET = {errno.ECONNREFUSED, errno.ECONNRESET}


def parse_ports(text: str) -> list[int]:
    """``"25, 80,443"`` → [25, 80, 443]; ValueError for anything but ports 1..65535."""
    ports = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isascii() or not item.isdigit() or not 0 < int(item) < 65536:
            raise ValueError(f"bad port {item!r} (1..65535)")
        ports.append(int(item))
    return ports


def _connect(sock: socket.socket, sockaddr: Any, timeout_s: float) -> tuple[str, str] | None:
    """Connect ``sock``; ``None`` once connected, else the ("reset"|"silent", evidence)."""
    sock.settimeout(timeout_s)
    try:
        sock.connect(sockaddr)
    except TimeoutError:
        return "silent", f"no SYN/ACK within {timeout_s:g} s"
    except OSError as exc:
        if exc.errno in _RESET:
            return "reset", f"connect: {exc.strerror}"
        return "silent", f"connect: {exc.strerror or exc}"
    return None


def probe_tcp(host: str, port: int, timeout_s: float) -> tuple[str, str]:
    """("open"|"reset"|"silent"|"other", evidence) for one TCP connect + banner read."""
    family, sockaddr = first_address(host, port, socket.SOCK_STREAM)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        failed = _connect(sock, sockaddr, timeout_s)
        if failed is not None:
            return failed
        data = bytearray()
        try:
            while len(data) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            if not data:
                return "other", f"connected, then {exc.strerror or 'no banner'}"
    if bytes(data) == tcp_banner(port):
        return "open", bytes(data).decode("latin-1").strip()
    return "other", f"connected, received {bytes(data)!r}"


def probe_connect(host: str, port: int, timeout_s: float) -> tuple[str, str]:
    """Like :func:`probe_tcp` for a reference service port, which sends no banner."""
    family, sockaddr = first_address(host, port, socket.SOCK_STREAM)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        failed = _connect(sock, sockaddr, timeout_s)
    return failed or ("open", "connected (reference service port)")


def probe_udp(host: str, port: int, timeout_s: float, tries: int = 3) -> tuple[str, str]:
    """("open"|"reset"|"silent"|"other", evidence) for a UDP echo, retried ``tries`` times."""
    family, sockaddr = first_address(host, port, socket.SOCK_DGRAM)
    payload = secrets.token_hex(8).encode()
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(sockaddr)
        sock.settimeout(timeout_s / tries)
        for _ in range(tries):
            try:
                sock.send(payload)
                data = sock.recv(2048)
            except TimeoutError:
                continue
            except OSError as exc:
                if exc.errno in _RESET:
                    return "reset", f"ICMP port unreachable ({exc.strerror})"
                return "silent", str(exc.strerror or exc)
            if data == udp_reply(port, payload):
                return "open", "echo matched"
            return "other", f"received {data[:80]!r}"
    return "silent", f"no echo to {tries} datagrams within {timeout_s:g} s"


def judge(proto: str, port: int, listening: bool, seen: str, evidence: str) -> Finding | None:
    """The finding for one port (see the module's table), or None."""
    subject = f"{proto}/{port}"
    expected = "reference listens" if listening else "closed on the reference"
    if listening and seen == "reset":
        return Finding("port_reset", subject, expected, evidence)
    if listening and seen == "silent":
        return Finding("port_blocked", subject, expected, evidence)
    if seen == "other" or (not listening and seen == "open"):
        return Finding("port_rewritten", subject, expected, evidence)
    return None


class PortReachabilityCollector(Collector):
    name = "port_reachability"
    description = "TCP/UDP port blocking, resets and redirection against the reference's ports"
    param_specs = (
        ParamSpec(
            "ports",
            "str",
            ",".join(map(str, DEFAULT_TCP_PORTS)),
            "TCP ports to test besides the reference's listening list (comma-separated)",
        ),
        ParamSpec("extra_ports", "str", "", "more TCP ports to test (comma-separated)"),
        ParamSpec("timeout", "duration", 2.0, "wait per port", minimum=0.05, maximum=60),
    )

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        attempt = self.begin(target, params, context)
        t0 = context.clock.monotonic_ns()
        timeout = params["timeout"]
        try:
            host = reference_host(target)
            wanted = parse_ports(params["ports"]) + parse_ports(params["extra_ports"])
            manifest = fetch_manifest(target, timeout)
            services = {int(p) for p in manifest.get("tcp_services", [])}
            tcp_listening = {int(p) for p in manifest.get("tcp_listening", [])} | services
            udp_listening = {int(p) for p in manifest.get("udp_echo", [])}
        except ValueError as exc:
            return attempt.finish(Status.ERROR, error=f"bad target or ports: {exc}")
        except ReferenceUnavailable as exc:
            return attempt.finish(exc.status, error=f"reference {target}: {exc}")
        plan = [
            ("tcp", port, port in tcp_listening, probe_connect if port in services else probe_tcp)
            for port in sorted(tcp_listening | set(wanted))
        ] + [("udp", port, True, probe_udp) for port in sorted(udp_listening)]
        findings: list[Finding] = []
        ports: dict[str, dict[str, Any]] = {}
        for proto, port, listening, probe in plan:
            if context.stop.is_set():
                return attempt.finish(Status.ERROR, error="stopped before every port was tested")
            seen, evidence = probe(host, port, timeout)
            ports[f"{proto}/{port}"] = {"listening": listening, "seen": seen, "evidence": evidence}
            finding = judge(proto, port, listening, seen, evidence)
            if finding is not None:
                findings.append(finding)
        filtered = [k for k, v in ports.items() if not v["listening"] and v["seen"] == "silent"]
        details = {"reference": target, "ports": ports, "filtered_closed": filtered}
        elapsed = (context.clock.monotonic_ns() - t0) / 1e9
        return attempt.finish(Status.OK, integrity_result(findings, elapsed, details))
