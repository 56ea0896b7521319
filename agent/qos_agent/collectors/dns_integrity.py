"""Collector ``dns_integrity``: does the resolver change answers for a zone we control?

Target: the integrity reference's URL; its manifest names the UDP port of the reference's
authoritative server for :data:`~qos_agent.integrity.known.ZONE_ORIGIN` (unsigned).  The
resolver under test is the ``resolver`` parameter (``ADDR[:PORT]``; empty: the first
``nameserver`` of the system configuration) and must be able to reach that zone (in the
lab it forwards the zone to the reference).  The same questions go to both — the zone's
names and one fresh random name under ``absent.`` that cannot exist — and every
difference is a finding with both answers:

* ``rcode_changed`` / ``answer_changed`` — another answer code or other records than the
  authoritative server gave (address override, blocking, redirection);
* ``nxdomain_rewritten`` — an address for a name that does not exist (ad/search
  redirection);
* ``ttl_raised`` — a TTL above the authoritative one (RFC 2181 §8: caches only count down);
* ``ad_claimed_unsigned`` — the AD bit (RFC 4035 §3.2.3) set on an answer from an unsigned
  zone, i.e. a validation claim that cannot be true.

Queries set AD to ask for the bit (RFC 6840 §5.7).  No answer from either server is a
failed measurement, never a clean one.  Wire format by dnspython.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qos.records import Measurement, Status
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.stamp import parse_target
from qos_agent.integrity.findings import Finding, integrity_result
from qos_agent.integrity.known import ABSENT_LABEL, ZONE_RECORDS
from qos_agent.integrity.manifest import ReferenceUnavailable, fetch_manifest, reference_host
from qos_agent.net.sockets import first_address


@dataclass(frozen=True, slots=True)
class Answer:
    """What one server said to one question."""

    rcode: str
    records: tuple[str, ...]  # sorted rdata text of the answer section
    ttl: int | None  # smallest answer TTL
    ad: bool

    def as_text(self) -> str:
        return f"{self.rcode} {list(self.records)} ttl={self.ttl}"


class QueryFailed(Exception):
    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


def ask(server: tuple[str, int], name: str, rdtype: str, timeout_s: float, tries: int) -> Answer:
    """One question over UDP, retried on timeout; :class:`QueryFailed` if never answered."""
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode

    _, sockaddr = first_address(server[0], server[1], socket.SOCK_DGRAM)
    for _ in range(tries):
        query = dns.message.make_query(name, rdtype)
        query.flags |= dns.flags.AD
        try:
            response = dns.query.udp(query, sockaddr[0], timeout=timeout_s, port=sockaddr[1])
        except dns.exception.Timeout:
            continue
        except OSError as exc:
            raise QueryFailed(Status.UNREACHABLE, f"{server[0]}:{server[1]}: {exc}") from None
        except dns.exception.DNSException as exc:
            raise QueryFailed(Status.ERROR, f"{server[0]}:{server[1]}: {exc}") from None
        rrsets = response.answer
        return Answer(
            rcode=dns.rcode.to_text(response.rcode()),
            records=tuple(sorted(rd.to_text() for rrset in rrsets for rd in rrset)),
            ttl=min((rrset.ttl for rrset in rrsets), default=None),
            ad=bool(response.flags & dns.flags.AD),
        )
    raise QueryFailed(Status.TIMEOUT, f"{server[0]}:{server[1]}: no answer to {name} {rdtype}")


def compare(question: str, absent: bool, reference: Answer, resolver: Answer) -> list[Finding]:
    """Findings for one question from the authoritative and the resolver's answers."""
    findings = []
    if absent and resolver.records:
        findings.append(
            Finding("nxdomain_rewritten", question, reference.as_text(), resolver.as_text())
        )
    elif resolver.rcode != reference.rcode:
        findings.append(Finding("rcode_changed", question, reference.rcode, resolver.rcode))
    elif resolver.records != reference.records:
        findings.append(
            Finding("answer_changed", question, reference.as_text(), resolver.as_text())
        )
    if resolver.ttl is not None and reference.ttl is not None and resolver.ttl > reference.ttl:
        findings.append(Finding("ttl_raised", question, str(reference.ttl), str(resolver.ttl)))
    if resolver.ad:
        findings.append(Finding("ad_claimed_unsigned", question, "AD=0 (unsigned zone)", "AD=1"))
    return findings


def questions(zone: str) -> list[tuple[str, str, bool]]:
    """(name, type, must-not-exist) for every zone record and one fresh absent name."""
    asked = [(f"{label}.{zone}", rdtype, False) for label, rdtype, _ in ZONE_RECORDS]
    asked.append((f"nx-{secrets.token_hex(6)}.{ABSENT_LABEL}.{zone}", "A", True))
    return asked


def system_resolver() -> str:
    """The first ``nameserver`` of the system's resolver configuration."""
    import dns.resolver

    nameservers = dns.resolver.Resolver().nameservers
    if not nameservers:
        raise ValueError("no nameserver in the system configuration")
    return str(nameservers[0])


class DnsIntegrityCollector(Collector):
    name = "dns_integrity"
    description = "DNS manipulation: a resolver's answers vs the reference's authoritative zone"
    param_specs = (
        ParamSpec("resolver", "str", "", "resolver under test ADDR[:PORT]; empty: the system's"),
        ParamSpec("timeout", "duration", 2.0, "wait per query", minimum=0.05, maximum=60),
        ParamSpec("retries", "int", 2, "extra attempts after a timeout", minimum=0, maximum=10),
    )

    def check(self) -> list[str]:
        return self.requires("dns.message", "dnspython")

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        attempt = self.begin(target, params, context)
        t0 = context.clock.monotonic_ns()
        try:
            resolver = parse_target(params["resolver"] or system_resolver(), default_port=53)
            manifest = fetch_manifest(target, params["timeout"])
            dns_info = manifest["dns"]
            reference = (reference_host(target), int(dns_info["port"]))
            zone = str(dns_info["zone"])
        except (ValueError, KeyError, TypeError) as exc:
            return attempt.finish(Status.ERROR, error=f"bad resolver or reference: {exc}")
        except ReferenceUnavailable as exc:
            return attempt.finish(exc.status, error=f"reference {target}: {exc}")
        tries = 1 + params["retries"]
        findings: list[Finding] = []
        answers: dict[str, dict[str, str]] = {}
        for name, rdtype, absent in questions(zone):
            question = f"{name} {rdtype}"
            try:
                ref = ask(reference, name, rdtype, params["timeout"], tries)
                got = ask(resolver, name, rdtype, params["timeout"], tries)
            except QueryFailed as exc:
                return attempt.finish(exc.status, error=f"{question}: {exc}")
            answers[question] = {"reference": ref.as_text(), "resolver": got.as_text()}
            findings += compare(question, absent, ref, got)
        details = {
            "resolver": f"{resolver[0]}:{resolver[1]}",
            "reference": f"{reference[0]}:{reference[1]}",
            "answers": answers,
        }
        elapsed = (context.clock.monotonic_ns() - t0) / 1e9
        return attempt.finish(Status.OK, integrity_result(findings, elapsed, details))
