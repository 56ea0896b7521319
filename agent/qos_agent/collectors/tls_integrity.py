"""Collector ``tls_integrity``: is the TLS connection to the reference intercepted?

Target: the integrity reference's URL; the TLS service's port, name and certificate pin
come from its manifest unless given as parameters (a pin from the configuration is the
trustworthy one: ``pin_sha256``, the RFC 7469 §2.4 form).  The client completes a
handshake without trusting any CA (the pin is the trust), sends the reference's server
name (SNI, RFC 6066 §3) and reads the line in which the server says what *it* saw.
Findings:

* ``spki_mismatch`` — another key answered (interception), with both fingerprints and
  the presented certificate's issuer;
* ``tls_downgraded`` — the client negotiated a lower version than the reference offers;
* ``tls_version_differs`` — client and server negotiated different versions (two
  handshakes: something terminated TLS in between);
* ``sni_stripped`` / ``sni_changed`` — the server did not receive the name sent.

A reference that cannot be reached or a failed handshake is a failed measurement.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from qos.records import Measurement, Status
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.integrity.findings import Finding, integrity_result
from qos_agent.integrity.manifest import ReferenceUnavailable, fetch_manifest, reference_host
from qos_agent.net.sockets import first_address

_VERSION_ORDER = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def handshake(host: str, port: int, server_name: str, timeout_s: float) -> dict[str, Any]:
    """Handshake without CA trust; the certificate (DER), version and the server's report."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # trust comes from the SPKI pin, not from a CA
    family, sockaddr = first_address(host, port, socket.SOCK_STREAM)
    with socket.socket(family, socket.SOCK_STREAM) as raw:
        raw.settimeout(timeout_s)
        raw.connect(sockaddr)
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True) or b""
            version = tls.version()
            line = bytearray()
            while not line.endswith(b"\n") and len(line) < 4096:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                line += chunk
    try:
        server_saw = json.loads(line) if line else None
    except ValueError:
        server_saw = {"unparsed": bytes(line[:200]).decode("latin-1")}
    return {"der": der, "version": version, "server_saw": server_saw}


def tls_findings(expected: Mapping[str, Any], seen: Mapping[str, Any]) -> list[Finding]:
    """Findings from the expected (pin, name, max version) and the handshake's facts."""
    findings = []
    if seen["spki_sha256"] != expected["pin"]:
        findings.append(
            Finding(
                "spki_mismatch",
                f"certificate SPKI (issuer {seen['issuer']})",
                expected["pin"],
                seen["spki_sha256"],
            )
        )
    max_version, version = expected["max_version"], seen["version"]
    known = max_version in _VERSION_ORDER and version in _VERSION_ORDER
    if known and _VERSION_ORDER.index(version) < _VERSION_ORDER.index(max_version):
        findings.append(Finding("tls_downgraded", "protocol version", max_version, version))
    server_saw = seen["server_saw"]
    if not isinstance(server_saw, Mapping) or "sni" not in server_saw:
        findings.append(
            Finding(
                "server_report_missing", "server's handshake report", "JSON line", str(server_saw)
            )
        )
        return findings
    if server_saw.get("version") != version:
        findings.append(
            Finding(
                "tls_version_differs",
                "version at the server",
                version,
                str(server_saw.get("version")),
            )
        )
    if server_saw.get("sni") is None:
        findings.append(Finding("sni_stripped", "server name (SNI)", expected["name"], None))
    elif server_saw["sni"] != expected["name"]:
        findings.append(
            Finding("sni_changed", "server name (SNI)", expected["name"], server_saw["sni"])
        )
    return findings


class TlsIntegrityCollector(Collector):
    name = "tls_integrity"
    description = "TLS interception, downgrade and SNI stripping against a pinned reference key"
    param_specs = (
        ParamSpec("pin_sha256", "str", "", "pinned SPKI SHA-256 (base64); empty: the manifest's"),
        ParamSpec("server_name", "str", "", "SNI to send; empty: the manifest's"),
        ParamSpec("port", "int", 0, "TLS port; 0: the manifest's", minimum=0, maximum=65535),
        ParamSpec("timeout", "duration", 5.0, "deadline per step", minimum=0.05, maximum=120),
    )

    def check(self) -> list[str]:
        return self.requires("cryptography.x509", "cryptography")

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        from qos_agent.integrity.certs import certificate_issuer, spki_sha256

        attempt = self.begin(target, params, context)
        t0 = context.clock.monotonic_ns()
        try:
            host = reference_host(target)
            tls_info = fetch_manifest(target, params["timeout"]).get("tls") or {}
        except ValueError as exc:
            return attempt.finish(Status.ERROR, error=f"bad reference URL: {exc}")
        except ReferenceUnavailable as exc:
            return attempt.finish(exc.status, error=f"reference {target}: {exc}")
        expected = {
            "pin": params["pin_sha256"] or str(tls_info.get("spki_sha256", "")),
            "pin_source": "configuration" if params["pin_sha256"] else "reference manifest",
            "name": params["server_name"] or str(tls_info.get("server_name", "")),
            "max_version": str(tls_info.get("max_version", "")),
        }
        port = params["port"] or int(tls_info.get("port", 0))
        if not expected["pin"] or not expected["name"] or not 0 < port < 65536:
            return attempt.finish(Status.ERROR, error="no TLS pin, name or port for the reference")
        try:
            raw = handshake(host, port, expected["name"], params["timeout"])
        except TimeoutError:
            return attempt.finish(Status.TIMEOUT, error=f"TLS {host}:{port}: no answer")
        except ssl.SSLError as exc:
            return attempt.finish(Status.ERROR, error=f"TLS {host}:{port}: handshake failed: {exc}")
        except OSError as exc:
            return attempt.finish(
                Status.UNREACHABLE, error=f"TLS {host}:{port}: {exc.strerror or exc}"
            )
        seen = {
            "spki_sha256": spki_sha256(raw["der"]),
            "issuer": certificate_issuer(raw["der"]),
            "version": raw["version"],
            "server_saw": raw["server_saw"],
        }
        findings = tls_findings(expected, seen)
        details = {"reference": f"{host}:{port}", "expected": expected, "seen": seen}
        elapsed = (context.clock.monotonic_ns() - t0) / 1e9
        return attempt.finish(Status.OK, integrity_result(findings, elapsed, details))
