"""Real peer tools as references: fping, irtt and iperf3 (docs/methods.md §12.4–12.5).

Pure parsers (``parse_*``) turn the tools' text/JSON into plain lists in seconds, so they
can be unit-tested without a network; the ``run_*`` helpers drive the tools inside a lab
namespace.  Units: fping prints milliseconds, irtt integer nanoseconds, iperf3 bit/s.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qos_lab.netlab import Lab


class PeerOutputError(ValueError):
    """A peer tool printed something we cannot parse (the message quotes it)."""


# fping --------------------------------------------------------------------------------
def parse_fping_vcount(stderr: str) -> dict[str, list[float | None]]:
    """Parse ``fping -C N -q`` output: ``host : 20.1 - 20.3`` per target, on stderr.

    Returns RTTs in seconds per host, ``None`` for a lost probe ('-'), in probe order.
    Lines that are not result lines (warnings such as ICMP unreachable notes) are ignored.
    """
    results: dict[str, list[float | None]] = {}
    for line in stderr.splitlines():
        host, sep, rest = line.partition(" : ")
        if not sep or not host.strip() or " " in host.strip():
            continue
        values: list[float | None] = []
        try:
            for token in rest.split():
                values.append(None if token == "-" else float(token) / 1e3)
        except ValueError:
            continue
        results[host.strip()] = values
    return results


def fping_argv(
    target: str, *, count: int, period_s: float, timeout_s: float, size_bytes: int | None = None
) -> list[str]:
    """fping in count mode with an explicit ``-t`` (docs/methods.md §12.4: never omit it).

    ``-i`` (the global gap between any two packets, default 10 ms) is lowered to the period
    when the period is shorter, otherwise fping silently sends no faster than every 10 ms.
    """
    period_ms = max(1, round(period_s * 1e3))
    argv = [
        "fping",
        "-4",
        "-q",
        "-C",
        str(count),
        "-p",
        str(period_ms),
        "-i",
        str(min(10, period_ms)),
        "-t",
        str(max(1, round(timeout_s * 1e3))),
    ]
    if size_bytes is not None:
        argv += ["-b", str(size_bytes)]
    return [*argv, target]


def run_fping(
    lab: Lab,
    target: str,
    *,
    count: int,
    period_s: float,
    timeout_s: float = 1.0,
    size_bytes: int | None = None,
) -> list[float | None]:
    """Run fping in the client namespace; per-probe RTTs in seconds (None = lost)."""
    argv = fping_argv(
        target, count=count, period_s=period_s, timeout_s=timeout_s, size_bytes=size_bytes
    )
    proc = lab.exec_client(argv, timeout=count * period_s + timeout_s + 30)
    # exit status 1 = some targets unreachable/lost; still a valid result
    parsed = parse_fping_vcount(proc.stderr)
    if target not in parsed:
        raise PeerOutputError(f"fping gave no result line for {target}: {proc.stderr!r}")
    rtts = parsed[target]
    if len(rtts) != count:
        raise PeerOutputError(f"fping reported {len(rtts)} probes, expected {count}")
    return rtts


# irtt ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IrttRoundTrip:
    """One irtt probe (seconds); ``lost`` is irtt's false/true/true_up/true_down."""

    seq: int
    lost: str
    rtt_s: float | None
    send_delay_s: float | None
    receive_delay_s: float | None
    client_receive_ns: int | None


@dataclass(frozen=True, slots=True)
class IrttResult:
    round_trips: tuple[IrttRoundTrip, ...]
    stats: Mapping[str, Any]

    def stat_s(self, name: str, field: str) -> float | None:
        """A duration statistic (e.g. ``("ipdv_round_trip", "mean")``) in seconds."""
        block = self.stats.get(name) or {}
        value = block.get(field)
        return None if value is None or not block.get("n") else value / 1e9

    @property
    def upstream_loss_ratio(self) -> float:
        return float(self.stats["upstream_loss_percent"]) / 100.0

    @property
    def downstream_loss_ratio(self) -> float:
        return float(self.stats["downstream_loss_percent"]) / 100.0

    @property
    def rtts_s(self) -> list[float | None]:
        return [r.rtt_s for r in self.round_trips]

    def arrival_ordered_rtts_s(self) -> list[float]:
        got = [r for r in self.round_trips if r.rtt_s is not None]
        got.sort(key=lambda r: (r.client_receive_ns or 0, r.seq))
        return [r.rtt_s for r in got if r.rtt_s is not None]


_IRTT_LOST = {"false", "true", "true_up", "true_down"}


def parse_irtt_json(text: str) -> IrttResult:
    """Parse ``irtt client -o -`` JSON; all irtt durations are integer nanoseconds."""
    try:
        data = json.loads(text)
        trips = []
        for rt in data["round_trips"]:
            lost = rt["lost"]
            if lost not in _IRTT_LOST:
                raise PeerOutputError(f"unknown irtt lost value {lost!r}")
            delay = rt.get("delay") or {}
            recv = ((rt.get("timestamps") or {}).get("client") or {}).get("receive") or {}
            trips.append(
                IrttRoundTrip(
                    seq=int(rt["seqno"]),
                    lost=lost,
                    rtt_s=_ns(delay.get("rtt")) if lost == "false" else None,
                    send_delay_s=_ns(delay.get("send")),
                    receive_delay_s=_ns(delay.get("receive")),
                    client_receive_ns=recv.get("monotonic"),
                )
            )
        return IrttResult(round_trips=tuple(trips), stats=data["stats"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise PeerOutputError(f"unexpected irtt JSON: {exc}") from exc


def _ns(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise PeerOutputError(f"irtt durations are integer nanoseconds, got {value!r}")
    return value / 1e9


IRTT_PORT = 2112


def realtime_argv(argv: list[str]) -> list[str]:
    """``argv`` under SCHED_FIFO priority 1 (``chrt -f 1``) when ``chrt`` exists and the
    process may use it, as our own probe senders run as root.

    A peer's timestamps are taken by its own process: on a busy host a normal-priority peer
    wakes late and its per-packet delays read milliseconds high (irtt's residual against
    the bridge's delays: p90 2.4-5.7 ms under two busy loops), which is the peer's error,
    not the path's.
    """
    if shutil.which("chrt") and os.geteuid() == 0:
        return ["chrt", "-f", "1", *argv]
    return argv


def irtt_realtime_argv(argv: list[str]) -> list[str]:
    """``argv`` of irtt (a Go program) under SCHED_FIFO with one Go scheduler slot.

    Go's runtime spin-waits in user space for its other threads (work stealing, stopping
    the world).  Under SCHED_FIFO a spinning thread is never preempted by a thread of its
    own priority, so on a 2-core host the irtt client and server each ended up with one
    thread spinning at 60-70 % of a core while the threads they waited for sat queued
    behind them: the client did not finish a 10 s run in 41 s (3 of 11 loaded runs with
    the bridge at SCHED_FIFO too).  ``GOMAXPROCS=1`` leaves Go one running thread, so
    there is no other processor to steal from or to stop.
    """
    return ["env", "GOMAXPROCS=1", *realtime_argv(argv)]


def start_irtt_server(lab: Lab, port: int = IRTT_PORT, *, realtime: bool = False) -> Any:
    """``irtt server`` bound to the server address, waiting until it listens."""
    argv = ["irtt", "server", "-b", f"{lab.server_addr}:{port}", "-i", "0"]
    return lab.spawn_server(
        irtt_realtime_argv(argv) if realtime else argv,
        wait_port=("udp", port),
        name=f"irtt:{port}",
    )


def run_irtt(
    lab: Lab,
    target: str,
    *,
    count: int,
    interval_s: float,
    wait_s: float = 1.0,
    extra: Sequence[str] = (),
    realtime: bool = False,
) -> IrttResult:
    """Run ``irtt client`` in the client namespace for ``count`` packets (under SCHED_FIFO
    with ``realtime``, see :func:`realtime_argv`)."""
    duration_ms = round(count * interval_s * 1e3)
    argv = [
        "irtt",
        "client",
        "-Q",
        "-o",
        "-",
        "-i",
        f"{round(interval_s * 1e6)}us",
        "-d",
        f"{duration_ms}ms",
        f"--wait={round(wait_s * 1e3)}ms",
        *extra,
        target,
    ]
    if realtime:
        argv = irtt_realtime_argv(argv)
    proc = lab.exec_client(argv, timeout=count * interval_s + wait_s + 30)
    if proc.returncode != 0:
        raise PeerOutputError(f"irtt failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse_irtt_json(proc.stdout)


# iperf3 -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Iperf3Result:
    bits_per_second: float
    retransmits: int | None
    lost_packets: int | None
    packets: int | None
    jitter_s: float | None
    #: payload bytes the receiver counted (``end.sum_received.bytes``)
    bytes: int | None = None


def parse_iperf3_json(text: str) -> Iperf3Result:
    """iperf3 ``-J``: TCP rate from ``end.sum_received``, UDP from ``end.sum`` (§12.5)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PeerOutputError(f"iperf3 did not print JSON: {text[:200]!r}") from exc
    if "error" in data:
        raise PeerOutputError(f"iperf3 error: {data['error']}")
    end = data.get("end") or {}
    protocol = ((data.get("start") or {}).get("test_start") or {}).get("protocol")
    if "sum_received" in end and protocol != "UDP":
        return Iperf3Result(
            bits_per_second=float(end["sum_received"]["bits_per_second"]),
            retransmits=(end.get("sum_sent") or {}).get("retransmits"),
            lost_packets=None,
            packets=None,
            jitter_s=None,
            bytes=end["sum_received"].get("bytes"),
        )
    if "sum" in end:
        # UDP: end.sum holds the sender's rate with the receiver's loss and jitter; the
        # received rate is end.sum_received where iperf3 (3.12) provides it
        s = end["sum"]
        jitter = s.get("jitter_ms")
        received = end.get("sum_received") or s
        return Iperf3Result(
            bits_per_second=float(received["bits_per_second"]),
            retransmits=None,
            lost_packets=s.get("lost_packets"),
            packets=s.get("packets"),
            jitter_s=None if jitter is None else jitter / 1e3,
            bytes=received.get("bytes"),
        )
    raise PeerOutputError("iperf3 JSON has no end.sum_received or end.sum")


IPERF3_PORT = 5201


def start_iperf3_server(lab: Lab, port: int = IPERF3_PORT, *, realtime: bool = False) -> Any:
    """``iperf3 -s`` in the server namespace (under SCHED_FIFO with ``realtime``: a UDP
    receiver stamps each datagram in user space after ``recv``, so on a busy host a
    normal-priority server's jitter figure carries its own wake-up delays)."""
    argv = ["iperf3", "-s", "-B", lab.server_addr, "-p", str(port)]
    return lab.spawn_server(
        realtime_argv(argv) if realtime else argv,
        wait_port=("tcp", port),
        name=f"iperf3{'-rt' if realtime else ''}:{port}",
    )


def run_iperf3(
    lab: Lab,
    target: str,
    *,
    seconds: float = 3.0,
    reverse: bool = False,
    port: int = IPERF3_PORT,
    omit_s: float = 1.0,
    extra: Sequence[str] = (),
) -> Iperf3Result:
    """TCP iperf3 client in the client namespace (``reverse`` = server sends = backward)."""
    argv = [
        "iperf3",
        "-c",
        target,
        "-p",
        str(port),
        "-J",
        "-t",
        f"{seconds:g}",
        "-O",
        f"{omit_s:g}",
        *extra,
    ]
    if reverse:
        argv.append("-R")
    proc = lab.exec_client(argv, timeout=seconds + omit_s + 30)
    return parse_iperf3_json(proc.stdout)


def finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]
