"""Collector ``http_integrity``: does the path change HTTP requests or responses?

Target: the integrity reference's URL (``http://HOST:PORT``, ``@reference/integrity``).
Two requests, each on a fresh connection:

1. ``GET /echo`` with a fixed head that includes a per-run nonce, mixed-case and
   lower-case header names in a deliberate order.  The reference returns the head exactly
   as it arrived, so every header a transparent proxy added (``Via``, ``X-Forwarded-For``
   …), removed, changed, re-cased or re-ordered, and a rewritten request line, is a
   finding with the sent and received text.
2. ``GET /known``: the reference's response head and body are known in advance, so added,
   removed or changed response headers and a body whose SHA-256 differs (injection,
   recompression, transcoding) are findings.

A reference that cannot be reached is a failed measurement, never a clean one.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import secrets
import socket
from collections.abc import Mapping
from typing import Any

from qos.records import Measurement, Status
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.http import split_url
from qos_agent.integrity.findings import Finding, integrity_result
from qos_agent.integrity.known import KNOWN_RESPONSE_HEADERS, KNOWN_SHA256
from qos_agent.integrity.manifest import ReferenceUnavailable
from qos_agent.net.sockets import first_address

_MAX_RESPONSE_BYTES = 1 << 20
_PROXY_HEADERS = {"via", "x-forwarded-for", "forwarded", "x-forwarded-proto", "x-forwarded-host"}


def probe_head(path: str, host_header: str, nonce: str) -> bytes:
    """The request head sent: a fixed order and deliberate case, with a nonce."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host_header}",
        "User-Agent: qos-toolkit-integrity/1",
        "Accept: */*",
        f"X-QoS-Probe: MiXeD-CaSe-{nonce}",
        "x-qos-lower: kept as sent",
        "Accept-Encoding: identity",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _header_lines(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    text = head.decode("latin-1").split("\r\n\r\n", 1)[0]
    first, *rest = text.split("\r\n")
    pairs = []
    for line in rest:
        name, _, value = line.partition(":")
        pairs.append((name, value.strip(" \t")))  # OWS is SP and HTAB only (RFC 9110 §5.6.3)
    return first, pairs


def compare_heads(
    sent: list[tuple[str, str]], seen: list[tuple[str, str]], where: str
) -> list[Finding]:
    """Headers added, removed, changed in value or case, or re-ordered between two heads."""
    findings: list[Finding] = []
    sent_by = {k.lower(): (k, v) for k, v in sent}
    seen_by = {k.lower(): (k, v) for k, v in seen}
    for key, (name, value) in seen_by.items():
        if key not in sent_by:
            kind = "proxy_header" if key in _PROXY_HEADERS else f"{where}_header_added"
            findings.append(Finding(kind, name, None, f"{name}: {value}"))
    for key, (name, value) in sent_by.items():
        if key not in seen_by:
            findings.append(Finding(f"{where}_header_removed", name, f"{name}: {value}", None))
            continue
        seen_name, seen_value = seen_by[key]
        if seen_value != value:
            findings.append(Finding(f"{where}_header_changed", name, value, seen_value))
        if seen_name != name:
            findings.append(Finding(f"{where}_header_case_changed", name, name, seen_name))
    common_sent = [k.lower() for k, _ in sent if k.lower() in seen_by]
    common_seen = [k.lower() for k, _ in seen if k.lower() in sent_by]
    if common_sent != common_seen:
        findings.append(
            Finding(
                f"{where}_header_order_changed",
                "header order",
                ", ".join(common_sent),
                ", ".join(common_seen),
            )
        )
    return findings


class _BytesSocket:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))


def exchange(host: str, port: int, head: bytes, timeout_s: float) -> bytes:
    """Send ``head`` on a fresh connection and read the whole response (server closes)."""
    family, sockaddr = first_address(host, port, socket.SOCK_STREAM)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(sockaddr)
        except ConnectionRefusedError as exc:
            raise ReferenceUnavailable(Status.UNREACHABLE, f"connect: {exc.strerror}") from None
        except TimeoutError:
            raise ReferenceUnavailable(Status.TIMEOUT, "connect: no answer") from None
        sock.sendall(head)
        data = bytearray()
        while len(data) <= _MAX_RESPONSE_BYTES:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return bytes(data)


def parse_response(raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, header pairs as sent, decoded body); chunked framing is undone."""
    response = http.client.HTTPResponse(_BytesSocket(raw))  # type: ignore[arg-type]
    response.begin()
    body = response.read()
    _, pairs = _header_lines(raw)
    return response.status, pairs, body


class HttpIntegrityCollector(Collector):
    name = "http_integrity"
    description = "HTTP integrity: request headers and response body/headers vs the reference echo"
    param_specs = (
        ParamSpec("timeout", "duration", 5.0, "deadline per request", minimum=0.05, maximum=120),
    )

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        attempt = self.begin(target, params, context)
        t0 = context.clock.monotonic_ns()
        try:
            scheme, host, port, _, host_header = split_url(target)
            if scheme != "http":
                raise ValueError("the reference URL must be http://HOST:PORT")
        except ValueError as exc:
            return attempt.finish(Status.ERROR, error=f"bad reference URL: {exc}")
        timeout = params["timeout"]
        try:
            sent = probe_head("/echo", host_header, secrets.token_hex(8))
            status, _, echoed = parse_response(exchange(host, port, sent, timeout))
            if status != 200:
                raise ReferenceUnavailable(Status.ERROR, f"/echo answered HTTP {status}")
            known = parse_response(
                exchange(host, port, probe_head("/known", host_header, "k"), timeout)
            )
        except ReferenceUnavailable as exc:
            return attempt.finish(exc.status, error=f"reference {target}: {exc}")
        except TimeoutError:
            return attempt.finish(Status.TIMEOUT, error=f"reference {target}: no answer")
        except (OSError, http.client.HTTPException) as exc:
            return attempt.finish(Status.UNREACHABLE, error=f"reference {target}: {exc}")
        findings = self._request_findings(sent, echoed) + self._response_findings(*known)
        details = {
            "reference": target,
            "request_sent": sent.decode("latin-1"),
            "request_received": echoed.decode("latin-1"),
            "known_status": known[0],
            "known_sha256": hashlib.sha256(known[2]).hexdigest(),
        }
        elapsed = (context.clock.monotonic_ns() - t0) / 1e9
        return attempt.finish(Status.OK, integrity_result(findings, elapsed, details))

    @staticmethod
    def _request_findings(sent: bytes, echoed: bytes) -> list[Finding]:
        if echoed == sent:
            return []
        sent_line, sent_pairs = _header_lines(sent)
        seen_line, seen_pairs = _header_lines(echoed)
        findings = []
        if seen_line != sent_line:
            findings.append(Finding("request_line_changed", "request line", sent_line, seen_line))
        findings += compare_heads(sent_pairs, seen_pairs, "request")
        if not findings:  # same lines, other bytes (whitespace, line endings)
            findings.append(
                Finding("request_bytes_changed", "request head", sent.hex(), echoed.hex())
            )
        return findings

    @staticmethod
    def _response_findings(status: int, pairs: list[tuple[str, str]], body: bytes) -> list[Finding]:
        findings = []
        if status != 200:
            findings.append(Finding("response_status_changed", "status", "200", str(status)))
        findings += compare_heads(list(KNOWN_RESPONSE_HEADERS), pairs, "response")
        digest = hashlib.sha256(body).hexdigest()
        if digest != KNOWN_SHA256:
            findings.append(
                Finding("body_changed", f"body SHA-256 ({len(body)} bytes)", KNOWN_SHA256, digest)
            )
        return findings
