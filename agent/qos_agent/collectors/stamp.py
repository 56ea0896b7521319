"""Collector ``stamp``: a STAMP (RFC 8762) Session-Sender test stream.

Target ``ADDR[:PORT]`` (``[v6addr]:PORT`` for IPv6; port 862 by default, RFC 8762 §4.1).
Sends ``count`` packets on a **fixed-rate schedule** (packet *i* at start + *i*·interval,
never stop-and-wait, so the stream samples the path like a periodic flow, RFC 3432),
receiving replies in the gaps, then waits ``timeout`` after the last send for stragglers.
Every probe is kept with T1..T4-derived RTT (reflector residence removed), one-way delays
(flagged by ``one_way_valid``), reflector-seen TTL and loss direction; the RTT summary goes
to ``RttResult.details`` (see :func:`qos_agent.stamp.analysis.analyse`).

Works against any RFC 8762 reflector (``qos-agent reflector``) and TWAMP-Light reflectors
(RFC 5357 App. I), including responders that answer with 36–40-octet replies;
forward/backward loss separation needs a stateful reflector.  The details record the
reflector's mode as far as the replies show it (``reflector_mode``) and the sizes of the
replies (``reply_octets``: e.g. ``[38]`` from a TWAMP-Light responder that leaves out the
Ses-Sender TTL, whose ``reflector_ttl`` is then ``None``).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Mapping
from typing import Any

from qos.records import Measurement, RttResult, Status
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.scheduling import probe_scheduling
from qos_agent.collectors.shared_params import SCHEDULING
from qos_agent.net.targets import split_host_port
from qos_agent.stamp.analysis import analyse, reflector_state
from qos_agent.stamp.clock import read_clock_state
from qos_agent.stamp.codec import BASE_SIZE, TWAMP_LIGHT_MIN_SIZE
from qos_agent.stamp.reflector import DEFAULT_PORT
from qos_agent.stamp.sender import StampSender

_POLL_SLICE_S = 0.05


def parse_target(target: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``"198.18.0.2:862"``, ``"[::1]:8620"``, ``"host"`` → (host, port); ValueError if bad."""
    return split_host_port(target, default_port)


class StampCollector(Collector):
    name = "stamp"
    description = "STAMP/TWAMP-Light two-way delay, loss by direction, IPDV, jitter (RFC 8762)"
    param_specs = (
        ParamSpec("count", "int", 100, "test packets to send", minimum=1, maximum=1_000_000),
        ParamSpec(
            "interval",
            "duration",
            0.1,
            "fixed send interval (e.g. 10ms)",
            minimum=0.0001,
            maximum=3600,
        ),
        ParamSpec(
            "timeout",
            "duration",
            2.0,
            "wait after the last send for late replies",
            minimum=0.01,
            maximum=60,
        ),
        SCHEDULING,
        ParamSpec(
            "size",
            "size",
            BASE_SIZE,
            "UDP payload octets (≥ 41; 44 = STAMP base)",
            minimum=TWAMP_LIGHT_MIN_SIZE,
            maximum=9000,
        ),
        ParamSpec(
            "ssid",
            "int",
            None,
            "RFC 8972 session id (default: random non-zero)",
            minimum=0,
            maximum=65535,
        ),
        ParamSpec("dscp", "int", 0, "DSCP of test packets (0–63)", minimum=0, maximum=63),
        ParamSpec(
            "reflector",
            "str",
            "auto",
            "reflector mode for loss direction: auto (detect), stateful or stateless",
            choices=("auto", "stateful", "stateless"),
        ),
    )

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        clock = context.clock
        attempt = self.begin(target, params, context)

        def failed(status: Status, error: str, result: RttResult | None = None) -> Measurement:
            return attempt.finish(status=status, result=result, error=error)

        try:
            host, port = parse_target(target)
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (ValueError, OSError) as exc:
            return failed(Status.ERROR, f"cannot resolve target: {exc}")
        ssid = (
            params["ssid"]
            if params["ssid"] is not None
            else 1 + random.SystemRandom().randrange(65535)
        )
        state = read_clock_state()
        try:
            sender = StampSender(
                info[4],
                info[0],
                ssid=ssid,
                size=params["size"],
                dscp=params["dscp"],
                clock_state=state,
                monotonic_ns=clock.monotonic_ns,
            )
        except OSError as exc:
            return failed(Status.UNREACHABLE, f"cannot open UDP socket to {target}: {exc}")
        with sender, probe_scheduling(params["scheduling"]) as policy:
            self._run(sender, params, context)
        probes, details = analyse(
            list(sender.sent.values()),
            sender.replies,
            sender_synchronized=state.synchronized,
            stateful=reflector_state(sender.replies, params["reflector"]),
        )
        details.update(
            {
                "ssid": ssid,
                "discarded": sender.discarded,
                "reply_octets": sorted(
                    {r.packet.size for received in sender.replies.values() for r in received}
                ),
                "ssid_echoed": sender.ssid_echoed,
                "clock_source": state.source,
                "scheduling": policy,
            }
        )
        result = RttResult(
            probes=tuple(probes),
            interval_s=params["interval"],
            timeout_s=params["timeout"],
            packet_size_bytes=params["size"],
            details=details,
        )
        received = sum(1 for p in probes if p.rtt_s is not None)
        if received:
            status, error = Status.OK, None
        elif sender.refused:
            status, error = Status.UNREACHABLE, f"{target}: port unreachable (ICMP refused)"
        elif context.stop.is_set() and not probes:
            status, error = Status.SKIPPED, "stopped before the first probe"
        else:
            status, error = Status.TIMEOUT, f"no reply from {target} to {len(probes)} probes"
        return attempt.finish(status=status, result=result, error=error)

    @staticmethod
    def _run(sender: StampSender, params: Mapping[str, Any], context: MeasureContext) -> None:
        """Fixed-rate schedule: send i at start + i·interval, read replies in between."""
        mono = context.clock.monotonic_ns
        interval_ns = int(params["interval"] * 1e9)
        begin = mono()
        for i in range(params["count"]):
            due = begin + i * interval_ns
            while (now := mono()) < due and not context.stop.is_set():
                sender.poll(min((due - now) / 1e9, _POLL_SLICE_S))
            if context.stop.is_set():
                break
            sender.send(i)
            if sender.refused and not sender.replies:
                break  # ICMP port unreachable before any reply: the port is closed
        deadline = mono() + int(params["timeout"] * 1e9)
        while sender.outstanding() and not context.stop.is_set():
            remaining = (deadline - mono()) / 1e9
            if remaining <= 0:
                break
            sender.poll(min(remaining, _POLL_SLICE_S))
            if sender.refused and not sender.replies:
                break
