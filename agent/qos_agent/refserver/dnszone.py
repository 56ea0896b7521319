"""Authoritative DNS server for the reference zone, for the ``dns_integrity`` test.

Serves :data:`~qos_agent.integrity.known.ZONE_RECORDS` under
:data:`~qos_agent.integrity.known.ZONE_ORIGIN` over UDP with the AA bit (RFC 1035 §4.1.1):
an existing name answers its records with :data:`~qos_agent.integrity.known.ZONE_TTL_S`,
an existing name without the asked type answers NOERROR with no data, any other name in
the zone is NXDOMAIN, and names outside the zone are REFUSED.  The zone is unsigned, so a
resolver that sets AD (RFC 4035 §3.2.3) on an answer from it claims a validation that
cannot have happened.  Wire format by dnspython.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from qos_agent.integrity.known import ZONE_ORIGIN, ZONE_RECORDS, ZONE_TTL_S


def _zone() -> dict[tuple[Any, int], Any]:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    origin = dns.name.from_text(ZONE_ORIGIN)
    table: dict[tuple[Any, int], Any] = {}
    for label, rdtype_text, text in ZONE_RECORDS:
        rdtype = dns.rdatatype.from_text(rdtype_text)
        name = dns.name.from_text(label, origin)
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)
        table.setdefault((name, rdtype), []).append(rdata)
    return table


def answer(wire: bytes, table: dict[tuple[Any, int], Any]) -> bytes | None:
    """The response to one query datagram, or None for something that is not a query."""
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rrset

    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    if query.flags & dns.flags.QR or len(query.question) != 1:
        return None
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.RA
    question = query.question[0]
    origin = dns.name.from_text(ZONE_ORIGIN)
    if not question.name.is_subdomain(origin):
        response.set_rcode(dns.rcode.REFUSED)
        return response.to_wire()
    response.flags |= dns.flags.AA
    rdatas = table.get((question.name, question.rdtype))
    if rdatas:
        rrset = dns.rrset.from_rdata_list(question.name, ZONE_TTL_S, rdatas)
        response.answer.append(rrset)
    elif not any(name == question.name for name, _ in table):
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


def start_zone_server(bind: str = "127.0.0.1", port: int = 0) -> tuple[int, Callable[[], None]]:
    """Serve the zone on UDP ``bind:port`` in a daemon thread: (bound port, stop function)."""
    table = _zone()
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((bind, port))
    sock.settimeout(0.2)
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = answer(wire, table)
            if reply is not None:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, peer)

    thread = threading.Thread(target=loop, name="qos-refserver-dns", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=2)
        sock.close()

    return int(sock.getsockname()[1]), stop
