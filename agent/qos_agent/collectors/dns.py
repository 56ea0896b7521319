"""Collector ``dns``: query time to a configured resolver over UDP, per query type.

Target: the resolver, ``ADDR[:PORT]`` (``[v6]:PORT``; port 53 by default).  For each query
type in ``types`` one query for ``name`` is sent over a connected UDP socket (so only the
resolver can answer, and ICMP port-unreachable shows as "refused"); on timeout it is
retried up to ``retries`` times with a fresh query ID, as a stub resolver does (RFC 1035
§4.2.1, RFC 1536 §1).  The phase recorded for a type is the round-trip time of the
attempt that got the answer; time lost to earlier timed-out attempts is in ``details``.

The resolver's answer code is an **outcome**, not a failure: NXDOMAIN, SERVFAIL and
REFUSED are facts about the resolver (a broken or censoring resolver is what we want to
see), recorded in ``TimingResult.outcome`` and per type in ``details``.  Status is
``timeout`` when a type got no answer after all attempts, ``unreachable`` when refused.

The DNS wire format comes from dnspython (imported lazily; ``agent`` extra), which also
discards replies whose ID or question does not match the query.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from qos.records import Measurement, Status, TimingResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.stamp import parse_target
from qos_agent.net.sockets import first_address

DNS_PORT = 53
_MAX_ANSWERS = 20


class DnsCollector(Collector):
    name = "dns"
    description = "DNS query time to a resolver over UDP, per query type, with rcode outcome"
    param_specs = (
        ParamSpec("name", "str", "example.com", "domain name to resolve"),
        ParamSpec("types", "str", "A", "comma-separated query types, e.g. A,AAAA"),
        ParamSpec("timeout", "duration", 2.0, "wait per attempt", minimum=0.01, maximum=60),
        ParamSpec("retries", "int", 2, "extra attempts after a timeout", minimum=0, maximum=10),
        ParamSpec("recursion", "bool", True, "set the RD (recursion desired) bit"),
    )

    def check(self) -> list[str]:
        return self.requires("dns.message", "dnspython")

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        import dns.exception
        import dns.rdatatype

        attempt = self.begin(target, params, context)

        def done(status: Status, result: TimingResult | None, error: str | None) -> Measurement:
            return attempt.finish(status=status, result=result, error=error)

        try:
            host, port = parse_target(target, default_port=DNS_PORT)
            family, sockaddr = first_address(host, port, socket.SOCK_DGRAM)
            types = [
                dns.rdatatype.from_text(t.strip()) for t in params["types"].split(",") if t.strip()
            ]
            if not types:
                raise ValueError("no query type given")
        except (ValueError, OSError, dns.exception.DNSException) as exc:
            return done(Status.ERROR, None, f"bad resolver or query types: {exc}")

        phases: dict[str, float | None] = {}
        per_type: dict[str, dict[str, Any]] = {}
        errors: list[str] = []
        status = Status.OK
        for rdtype in types:
            label = dns.rdatatype.to_text(rdtype)
            phase, info, failure = _query_type(params, rdtype, family, sockaddr, context)
            phases[label], per_type[label] = phase, info
            if failure is not None:
                errors.append(f"{label}: {failure[1]}")
                status = _worse(status, failure[0])

        rcodes = [i["rcode"] for i in per_type.values() if i["rcode"] is not None]
        if rcodes and len(set(rcodes)) == 1 and len(rcodes) == len(per_type):
            outcome: str | None = rcodes[0]
        elif rcodes:
            outcome = " ".join(f"{k}={v['rcode'] or 'none'}" for k, v in per_type.items())
        else:
            outcome = None
        result = TimingResult(
            phases_s=phases,
            outcome=outcome,
            details={
                "resolver": f"{sockaddr[0]}:{sockaddr[1]}",
                "name": params["name"],
                "per_type": per_type,
            },
        )
        return done(status, result, "; ".join(errors) or None)


_SEVERITY = {Status.OK: 0, Status.ERROR: 1, Status.TIMEOUT: 2, Status.UNREACHABLE: 3}


def _worse(a: Status, b: Status) -> Status:
    return a if _SEVERITY.get(a, 0) >= _SEVERITY.get(b, 0) else b


def _query_type(
    params: Mapping[str, Any], rdtype: Any, family: int, sockaddr: Any, context: MeasureContext
) -> tuple[float | None, dict[str, Any], tuple[Status, str] | None]:
    """Query one type with retries: (query time, details, failure status and reason)."""
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode

    mono = context.clock.monotonic_ns
    info: dict[str, Any] = {
        "rcode": None,
        "attempts": 0,
        "answers": [],
        "truncated": None,
        "elapsed_s": None,
    }
    begin = mono()
    phase: float | None = None
    failure: tuple[Status, str] | None = None
    for _attempt in range(1 + params["retries"]):
        if context.stop.is_set():
            break
        query = dns.message.make_query(params["name"], rdtype)
        if not params["recursion"]:
            query.flags &= ~dns.flags.RD
        info["attempts"] += 1
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect(sockaddr)
                sock.setblocking(False)  # dnspython requires it and times out itself
                t0 = mono()
                response = dns.query.udp(
                    query,
                    sockaddr[0],
                    timeout=params["timeout"],
                    port=sockaddr[1],
                    sock=sock,
                    ignore_errors=True,
                )
                t1 = mono()
        except dns.exception.Timeout:
            continue
        except OSError as exc:  # ECONNREFUSED and friends: nobody serves DNS there
            failure = (Status.UNREACHABLE, str(exc.strerror or exc))
            break
        except dns.exception.DNSException as exc:
            failure = (Status.ERROR, str(exc))
            break
        phase = (t1 - t0) / 1e9
        info["rcode"] = dns.rcode.to_text(response.rcode())
        info["truncated"] = bool(response.flags & dns.flags.TC)
        info["answers"] = [rd.to_text() for rrset in response.answer for rd in rrset][:_MAX_ANSWERS]
        break
    info["elapsed_s"] = (mono() - begin) / 1e9
    if phase is None and failure is None:
        failure = (Status.TIMEOUT, f"no answer after {info['attempts']} attempt(s)")
    return phase, info, failure
