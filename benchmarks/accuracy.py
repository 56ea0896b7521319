"""Accuracy report: lab scenarios, set value vs our ICMP, our STAMP, fping, irtt.

Run as root (it builds network namespaces; docs/methods.md §12)::

    sudo .venv/bin/python benchmarks/accuracy.py            # all scenarios, Markdown tables
    sudo .venv/bin/python benchmarks/accuracy.py --quick    # fewer packets
    sudo .venv/bin/python benchmarks/accuracy.py --json out.json

Scenarios (delay, jitter and loss are applied **per direction**, as netem on both router
egress interfaces would; "set" columns are the resulting round-trip values):

1. ``delay``: 20 ms each way (TUN bridge) → RTT 40 ms.
2. ``jitter+loss``: 15 ± 5 ms uniform each way, 2 % random loss each way (Bernoulli drop in
   the TUN bridge) → RTT median 30 ms, E|ΔRTT| = 14/15·5 ms, round-trip loss
   1 − 0.98² = 3.96 %.  Packets every 20 ms (≥ 4·J) so the FIFO bridge never clamps.
3. ``rate``: tbf 50 Mbit/s each way (veth); idle latency through the shaper and iperf3 TCP
   goodput per direction (payload ≤ 1448/1514 of the rate).

Below each tool, "↳ truth" is the same metrics over the delays and drops the TUN bridge
really applied to that tool's packets (``Lab.bridge_log``): the realised ground truth of
that run, to which the tool should be compared (the "set" row is the population value).

Every metric is computed with the same definitions (qos.metrics, docs/methods.md §6) from each
tool's per-packet RTTs, so differences come from the measurements, not from formulas.
Columns: median and 95th percentile RTT (RFC 2330 ranks), mean |IPDV| of consecutive
packets (RFC 3393 §4.5), Y.1541 IPDV (99.9th percentile − minimum), RFC 3550 jitter (final
filter value, and its run average after 64 packets), loss with 95 % Clopper–Pearson
intervals — per direction where the tool can tell (STAMP, irtt), round trip otherwise.
fping prints RTTs ≥ 10 ms with 0.1 ms resolution.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qos import metrics
from qos.records import RttResult
from qos_lab import agents, peers
from qos_lab.netlab import Delay, Lab, Rate, missing_requirements
from qos_lab.stats import (
    clopper_pearson,
    expected_abs_diff_one_way,
    expected_abs_diff_rtt,
    realised_round_trips,
    rfc3550_running,
    uniform_sum_quantile,
)

Loss = tuple[int, int]  # (lost, trials)


@dataclass
class ToolResult:
    """Per-packet data of one tool in one scenario, reduced with qos.metrics."""

    tool: str
    rtts: list[float | None]  # sequence order, None = lost
    arrival_ordered: list[float]
    loss_forward: Loss | None = None
    loss_backward: Loss | None = None
    loss_unknown: int = 0
    one_way: dict[str, list[float | None]] = field(default_factory=dict)
    note: str = ""

    def row(self) -> dict[str, Any]:
        got = [r for r in self.rtts if r is not None]
        running = rfc3550_running(self.arrival_ordered)
        lost = sum(1 for r in self.rtts if r is None)
        out: dict[str, Any] = {
            "tool": self.tool,
            "sent": len(self.rtts),
            "received": len(got),
            "median_rtt_s": metrics.rtt_median_s(self.rtts),
            "p95_rtt_s": metrics.rtt_p95_s(self.rtts),
            "mean_abs_ipdv_s": metrics.jitter_mean_abs_diff_s(self.rtts),
            "ipdv_p999_s": metrics.ipdv_p999_s(self.rtts),
            "jitter_rfc3550_s": metrics.jitter_rfc3550_s(self.arrival_ordered),
            "jitter_rfc3550_run_mean_s": statistics.fmean(running[64:])
            if len(running) > 64
            else None,
            "loss_round_trip": _loss(lost, len(self.rtts)),
            "loss_forward": _loss(*self.loss_forward) if self.loss_forward else None,
            "loss_backward": _loss(*self.loss_backward) if self.loss_backward else None,
            "loss_unknown_direction": self.loss_unknown,
            "note": self.note,
        }
        for name, series in self.one_way.items():
            out[f"{name}_median_s"] = metrics.median(series, undefined="exclude")
            out[f"{name}_mean_abs_ipdv_s"] = metrics.jitter_mean_abs_diff_s(series)
        return out


def _loss(k: int, n: int) -> dict[str, Any] | None:
    if n <= 0:
        return None
    lo, hi = clopper_pearson(k, n, 0.95)
    return {"lost": k, "n": n, "ratio": k / n, "ci95": [lo, hi]}


# tools --------------------------------------------------------------------------------
def run_fping(lab: Lab, count: int, interval_s: float) -> ToolResult:
    rtts = peers.run_fping(lab, lab.server_addr, count=count, period_s=interval_s, timeout_s=1.0)
    # fping has no arrival times; the lab never reorders (FIFO bridge, one path), so
    # replies arrive in send order
    return ToolResult("fping", rtts, [r for r in rtts if r is not None])


def run_irtt(lab: Lab, count: int, interval_s: float) -> ToolResult:
    peers.start_irtt_server(lab)
    res = peers.run_irtt(
        lab, f"{lab.server_addr}:{peers.IRTT_PORT}", count=count, interval_s=interval_s
    )
    trips = res.round_trips
    up = sum(1 for t in trips if t.lost == "true_up")
    down = sum(1 for t in trips if t.lost == "true_down")
    unknown = sum(1 for t in trips if t.lost == "true")
    own = res.stat_s("ipdv_round_trip", "mean")
    note = f"irtt's own mean |IPDV| {own * 1e3:.3f} ms" if own is not None else ""
    return ToolResult(
        "irtt",
        res.rtts_s,
        res.arrival_ordered_rtts_s(),
        loss_forward=(up, len(trips) - unknown),
        loss_backward=(down, len(trips) - unknown - up),
        loss_unknown=unknown,
        one_way={
            "forward": [t.send_delay_s if t.lost == "false" else None for t in trips],
            "backward": [t.receive_delay_s if t.lost == "false" else None for t in trips],
        },
        note=note,
    )


def run_icmp(lab: Lab, count: int, interval_s: float) -> ToolResult:
    record = agents.measure(
        lab, "icmp", lab.server_addr, {"count": count, "interval": interval_s, "timeout": "1s"}
    )
    result = record.result
    if not isinstance(result, RttResult):
        raise RuntimeError(f"icmp gave no RTT result: {record.status} {record.error}")
    by_seq = sorted(result.probes, key=lambda p: p.seq)
    return ToolResult(
        "our icmp",
        [p.rtt_s for p in by_seq],
        metrics.arrival_ordered_rtts(result.probes),
        note=str(record.status),
    )


def run_stamp(lab: Lab, count: int, interval_s: float) -> ToolResult:
    agents.start_reflector(lab)
    record = agents.measure(
        lab,
        "stamp",
        f"{lab.server_addr}:{agents.STAMP_PORT}",
        {"count": count, "interval": interval_s, "timeout": "1s"},
    )
    result = record.result
    if not isinstance(result, RttResult):
        raise RuntimeError(f"stamp gave no RTT result: {record.status} {record.error}")
    d = result.details
    by_seq = sorted(result.probes, key=lambda p: p.seq)
    known = len(by_seq) - d["lost_unknown_direction"]
    return ToolResult(
        "our stamp",
        [p.rtt_s for p in by_seq],
        metrics.arrival_ordered_rtts(result.probes),
        loss_forward=(d["forward_lost"], known),
        loss_backward=(d["backward_lost"], known - d["forward_lost"]),
        loss_unknown=d["lost_unknown_direction"],
        one_way={
            "forward": [p.forward_delay_s for p in by_seq],
            "backward": [p.backward_delay_s for p in by_seq],
        },
        note=f"{record.status}; one_way_valid={d.get('one_way_valid')}",
    )


TOOLS: dict[str, Callable[[Lab, int, float], ToolResult]] = {
    "our icmp": run_icmp,
    "our stamp": run_stamp,
    "fping": run_fping,
    "irtt": run_irtt,
}


# scenarios ----------------------------------------------------------------------------
def set_values(delay_s: float, jitter_s: float, loss: float) -> dict[str, Any]:
    """Ground truth of a symmetric scenario (round trip unless named per direction)."""
    widths = (jitter_s, jitter_s)
    rt_loss = 1 - (1 - loss) ** 2
    return {
        "tool": "set",
        "median_rtt_s": 2 * delay_s,
        "p95_rtt_s": 2 * delay_s + uniform_sum_quantile(widths, 0.95),
        "mean_abs_ipdv_s": expected_abs_diff_rtt(jitter_s, jitter_s),
        "ipdv_p999_s": uniform_sum_quantile(widths, 0.999) - uniform_sum_quantile(widths, 0.0),
        "jitter_rfc3550_s": expected_abs_diff_rtt(jitter_s, jitter_s),
        "jitter_rfc3550_run_mean_s": expected_abs_diff_rtt(jitter_s, jitter_s),
        "loss_round_trip": {"ratio": rt_loss},
        "loss_forward": {"ratio": loss},
        "loss_backward": {"ratio": loss},
        "forward_median_s": delay_s,
        "backward_median_s": delay_s,
        "forward_mean_abs_ipdv_s": expected_abs_diff_one_way(jitter_s),
        "backward_mean_abs_ipdv_s": expected_abs_diff_one_way(jitter_s),
        "note": "population values (IPDV p99.9: q99.9 − min of the RTT law)",
    }


#: leading request/response exchanges that are not probes (irtt opens its session)
_SKIP = {"irtt": 1}


def truth_for(tool: ToolResult, log: dict[str, list[float | None]], skip: int) -> ToolResult:
    """The delays the TUN bridge really applied to this tool's probes (``Lab.bridge_log``).

    Probe i ↔ the i-th packet of each direction (FIFO bridge, one flow at a time); losses
    are the bridge's own drops, so per-direction truth is exact.
    """
    n = len(tool.rtts)
    fwd = log["forward"][skip : skip + n]
    rtts = realised_round_trips(log["forward"], log["backward"], n, skip=skip)
    fwd_lost = sum(1 for f in fwd if f is None)
    bwd_lost = sum(1 for r in rtts if r is None) - fwd_lost
    bwd = [None if f is None or r is None else r - f for f, r in zip(fwd, rtts, strict=True)]
    return ToolResult(
        f"  ↳ truth ({tool.tool} run)",
        rtts,
        [r for r in rtts if r is not None],
        loss_forward=(fwd_lost, n),
        loss_backward=(bwd_lost, n - fwd_lost),
        one_way={"forward": list(fwd), "backward": bwd},
    )


def run_tools(lab: Lab, count: int, interval_s: float, tools: Sequence[str]) -> list[ToolResult]:
    out = []
    for name in tools:  # sequential: concurrent flows would interleave in the FIFO bridge
        t0 = time.monotonic()
        if lab.tun:
            lab.bridge_log()
        result = TOOLS[name](lab, count, interval_s)
        out.append(result)
        if lab.tun:
            log = lab.bridge_log()
            try:
                out.append(truth_for(result, log, _SKIP.get(name, 0)))
            except ValueError as exc:  # e.g. irtt's open exchange lost and retried
                print(f"  no per-packet truth for {name}: {exc}", file=sys.stderr)
        print(f"  {name}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return out


def scenario_delay(count: int, tools: Sequence[str]) -> dict[str, Any]:
    delay = 0.020
    with Lab(tun=True) as lab:
        for d in ("forward", "backward"):
            lab.set_delay(d, Delay(delay_s=delay))  # type: ignore[arg-type]
        results = run_tools(lab, count, 0.020, tools)
    return {
        "name": "delay 20 ms each way",
        "set": set_values(delay, 0.0, 0.0),
        "rows": [r.row() for r in results],
    }


def scenario_jitter_loss(count: int, tools: Sequence[str]) -> dict[str, Any]:
    delay, jitter, loss = 0.015, 0.005, 0.02
    with Lab(tun=True) as lab:
        for d in ("forward", "backward"):
            # the bridge drops (Bernoulli) rather than iptables so that every loss is in
            # the per-packet truth log; iptables loss is validated in tests/lab
            lab.set_delay(d, Delay(delay_s=delay, jitter_s=jitter, loss=loss))  # type: ignore[arg-type]
        results = run_tools(lab, count, 0.020, tools)
    return {
        "name": "15 ± 5 ms each way, 2 % loss each way",
        "set": set_values(delay, jitter, loss),
        "rows": [r.row() for r in results],
    }


def scenario_rate(count: int, tools: Sequence[str], seconds: float) -> dict[str, Any]:
    rate = 50e6
    with Lab(tun=False) as lab:
        for d in ("forward", "backward"):
            lab.set_rate(d, Rate(rate))  # type: ignore[arg-type]
        results = run_tools(lab, count, 0.010, tools)
        peers.start_iperf3_server(lab)
        up = peers.run_iperf3(lab, lab.server_addr, seconds=seconds)
        down = peers.run_iperf3(lab, lab.server_addr, seconds=seconds, reverse=True)
    set_row = set_values(0.0, 0.0, 0.0)
    set_row["note"] = "idle path through tbf: RTT = base latency (no set delay)"
    for key in ("median_rtt_s", "p95_rtt_s", "forward_median_s", "backward_median_s"):
        set_row[key] = None
    return {
        "name": "tbf 50 Mbit/s each way",
        "set": set_row,
        "rows": [r.row() for r in results],
        "throughput": {
            "set_bps": rate,
            "max_tcp_payload_bps": rate * 1448 / 1514,
            "iperf3_upload_bps": up.bits_per_second,
            "iperf3_download_bps": down.bits_per_second,
            "iperf3_upload_retransmits": up.retransmits,
        },
    }


# output -------------------------------------------------------------------------------
def _ms(v: Any) -> str:
    return "–" if v is None else f"{v * 1e3:.3f}"


def _pct(v: dict[str, Any] | None) -> str:
    if not v:
        return "–"
    text = f"{v['ratio'] * 100:.2f} %"
    if "ci95" in v:
        lo, hi = v["ci95"]
        text += f" [{lo * 100:.2f}, {hi * 100:.2f}] ({v['lost']}/{v['n']})"
    return text


def render(scenarios: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for sc in scenarios:
        lines += [
            f"### {sc['name']}",
            "",
            "| | median RTT ms | p95 RTT ms | mean \\|IPDV\\| ms | IPDV p99.9−min ms "
            "| RFC 3550 J ms (final / run mean) | loss round trip | loss forward "
            "| loss backward |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in [sc["set"], *sc["rows"]]:
            lines.append(
                f"| {row['tool']} | {_ms(row.get('median_rtt_s'))} | {_ms(row.get('p95_rtt_s'))} "
                f"| {_ms(row.get('mean_abs_ipdv_s'))} | {_ms(row.get('ipdv_p999_s'))} "
                f"| {_ms(row.get('jitter_rfc3550_s'))} / "
                f"{_ms(row.get('jitter_rfc3550_run_mean_s'))} "
                f"| {_pct(row.get('loss_round_trip'))} | {_pct(row.get('loss_forward'))} "
                f"| {_pct(row.get('loss_backward'))} |"
            )
        one_way = [r for r in [sc["set"], *sc["rows"]] if "forward_mean_abs_ipdv_s" in r]
        if one_way:
            lines += [
                "",
                "| one-way | forward median ms | backward median ms "
                "| forward mean \\|IPDV\\| ms | backward mean \\|IPDV\\| ms |",
                "| --- | --- | --- | --- | --- |",
            ]
            for row in one_way:
                lines.append(
                    f"| {row['tool']} | {_ms(row.get('forward_median_s'))} "
                    f"| {_ms(row.get('backward_median_s'))} "
                    f"| {_ms(row.get('forward_mean_abs_ipdv_s'))} "
                    f"| {_ms(row.get('backward_mean_abs_ipdv_s'))} |"
                )
        notes = [f"{r['tool']}: {r['note']}" for r in [sc["set"], *sc["rows"]] if r.get("note")]
        if "router_counters" in sc:
            notes.append(f"router iptables counters: {sc['router_counters']}")
        if "throughput" in sc:
            t = sc["throughput"]
            notes.append(
                f"throughput: set {t['set_bps'] / 1e6:.1f} Mbit/s (TCP payload ceiling "
                f"{t['max_tcp_payload_bps'] / 1e6:.2f}); iperf3 upload "
                f"{t['iperf3_upload_bps'] / 1e6:.2f}, download {t['iperf3_download_bps'] / 1e6:.2f}"
                f" Mbit/s"
            )
        lines += ["", *[f"* {n}" for n in notes], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer packets (about 1 minute)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=("delay", "jitter", "rate"),
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated subset of: " + ", ".join(TOOLS)
    )
    args = parser.parse_args(argv)
    problems = missing_requirements()
    if problems:
        print("accuracy benchmark cannot run here: " + "; ".join(problems), file=sys.stderr)
        return 2
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for name in tools:
        if name not in TOOLS:
            parser.error(f"unknown tool {name!r}")
        if name.startswith("our ") and not agents.have_collector(name.split()[1]):
            parser.error(f"collector {name.split()[1]!r} does not exist yet")
    wanted = args.scenario or ["delay", "jitter", "rate"]
    scale = 0.3 if args.quick else 1.0
    scenarios = []
    if "delay" in wanted:
        print("scenario: delay", file=sys.stderr)
        scenarios.append(scenario_delay(int(500 * scale), tools))
    if "jitter" in wanted:
        print("scenario: jitter+loss", file=sys.stderr)
        scenarios.append(scenario_jitter_loss(int(1500 * scale), tools))
    if "rate" in wanted:
        print("scenario: rate", file=sys.stderr)
        scenarios.append(scenario_rate(int(500 * scale), tools, 3.0 if args.quick else 5.0))
    print(render(scenarios))
    if args.json:
        args.json.write_text(json.dumps(scenarios, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
