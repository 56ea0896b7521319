"""Content the integrity reference services serve, known to the collectors in advance.

A manipulation is only visible against something known: the HTTP body and its SHA-256,
the exact response head of the ``/known`` route, the DNS zone and the TLS server name.
Names live under ``.test`` (RFC 6761 §6.2), so they never resolve on the Internet.
"""

from __future__ import annotations

import hashlib

#: the HTML body of ``GET /known``; HTML because injectors target HTML pages
KNOWN_BODY: bytes = (
    b"<!doctype html>\n<html><head><title>qos-toolkit integrity reference</title></head>\n"
    b"<body>\n"
    + b"".join(
        b"<p>line %04d: this page must arrive byte for byte as the reference sent it.</p>\n" % i
        for i in range(64)
    )
    + b"</body></html>\n"
)
KNOWN_SHA256: str = hashlib.sha256(KNOWN_BODY).hexdigest()

#: the response head of ``GET /known``, in order, exactly as the reference sends it
KNOWN_RESPONSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", str(len(KNOWN_BODY))),
    ("Cache-Control", "no-store, no-transform"),
    ("Connection", "close"),
)

#: the reference DNS zone (authoritative, unsigned); TTLs are what a resolver may not raise
ZONE_ORIGIN = "integrity.qos.test."
ZONE_TTL_S = 300
ZONE_RECORDS: tuple[tuple[str, str, str], ...] = (
    ("a", "A", "192.0.2.1"),  # RFC 5737 TEST-NET-1
    ("a", "AAAA", "2001:db8::1"),  # RFC 3849 documentation prefix
    ("txt", "TXT", '"qos-toolkit integrity reference"'),
)
#: names below this label never exist: an address for one is NXDOMAIN rewriting
ABSENT_LABEL = "absent"

#: the server name the TLS client sends and the reference certificate names
TLS_SERVER_NAME = "reference.integrity.qos.test"

#: ports a network commonly blocks or intercepts (mail, DNS, web, VPN, SIP, WireGuard)
DEFAULT_TCP_PORTS: tuple[int, ...] = (25, 53, 80, 443, 465, 587, 993, 1194, 5060, 51820)
DEFAULT_UDP_PORTS: tuple[int, ...] = (53, 1194, 5060, 51820)


def tcp_banner(port: int) -> bytes:
    """What the reference's TCP listener on ``port`` sends first: proof of who answered."""
    return b"QOS-PORT %d\r\n" % port


def udp_reply(port: int, payload: bytes) -> bytes:
    """The reference's UDP echo: its port, then the probe's payload."""
    return b"QOS-UDP %d " % port + payload
