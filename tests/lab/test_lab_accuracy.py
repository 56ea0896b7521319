"""Accuracy of our ICMP and STAMP collectors against lab ground truth.

Same link, same run, real peers side by side (docs/methods.md §12): our ICMP median RTT
excess over the bridge's per-probe delays within 0.15 ms of fping's, STAMP's within
0.5 ms; our mean |IPDV| and RFC 3550 jitter within 10 % of the true value for uniform
jitter (qos_lab.stats), compared packet for packet with the delays the TUN bridge really
applied (``Lab.bridge_log``), whose agreement with the theory is checked in
test_lab_emulation; loss per direction equal to the router's own drop counters and with
binomial intervals containing the set probability; a blackholed path gives 100 % loss with
status timeout/unreachable.

Collectors run as subprocesses in the client namespace (qos_lab.runner).
"""

from __future__ import annotations

import shutil
import statistics

import pytest

from qos import metrics
from qos.records import LossDirection, RttResult, Status
from qos_lab import agents, peers
from qos_lab.netlab import BridgeLog, Delay, Lab
from qos_lab.stats import (
    clopper_pearson,
    expected_abs_diff_one_way,
    expected_abs_diff_rtt,
    realised_round_trips,
    rfc3550_running,
)

pytestmark = pytest.mark.lab

needs_icmp = pytest.mark.skipif(
    not agents.have_collector("icmp"), reason="ICMP collector not written yet"
)
needs_stamp = pytest.mark.skipif(
    not agents.have_collector("stamp"), reason="STAMP collector not written yet"
)

#: see test_lab_emulation.TEST_CONFIDENCE: a 95 % interval misses in 5 % of correct runs;
#: the exact drop counters are the sharp test, the interval a sanity check of the emulator.
TEST_CONFIDENCE = 0.999
#: 10 ± 2.5 ms each way, one packet every 10 ms (≥ 4·J, so the bridge's FIFO never clamps)
JITTER_S = 0.0025
JITTER_COUNT = 1000
JITTER_INTERVAL_S = 0.010


def _stamp_target(lab: Lab) -> str:
    return f"{lab.server_addr}:{agents.STAMP_PORT}"


def _median(values: list[float | None]) -> float:
    got = [v for v in values if v is not None]
    assert got, "no RTT at all"
    return statistics.median(got)


def _result(record: object) -> RttResult:
    result = getattr(record, "result", None)
    assert isinstance(result, RttResult), record
    return result


# median RTT vs fping ------------------------------------------------------------------
def _fping_realtime(lab: Lab, count: int) -> list[float | None]:
    """fping, one probe every 20 ms, under SCHED_FIFO (when ``chrt`` exists) as our
    collector sends as root: under two busy loops a normal-priority fping's RTTs were
    0.26-1.8 ms (median) above the bridge's delays, under SCHED_FIFO 0.19-0.25 ms."""
    argv = peers.fping_argv(lab.server_addr, count=count, period_s=0.02, timeout_s=1)
    if shutil.which("chrt"):
        argv = ["chrt", "-f", "1", *argv]
    proc = lab.exec_client(argv, timeout=count * 0.02 + 31)
    rtts = peers.parse_fping_vcount(proc.stderr).get(lab.server_addr, [])
    assert len(rtts) == count, proc.stderr
    return rtts


def _path_rtt(rtts: list[float | None], log: dict[str, list[float | None]]) -> float:
    """Median of each probe's RTT minus the delay the bridge applied to that very probe.

    What remains is the path's own round trip (kernel, the bridge's reads and writes) plus
    the tool's error; the bridge's delays and its lateness on a loaded host cancel.
    """
    truth = realised_round_trips(log["forward"], log["backward"], len(rtts))
    pairs = zip(rtts, truth, strict=True)
    return _median([r - t for r, t in pairs if r is not None and t is not None])


@needs_icmp
def test_icmp_median_rtt_matches_fping(shared_tun_lab: Lab) -> None:
    """Our ICMP RTT within 0.1 ms of fping's, packet for packet against the bridge's delays.

    The bound is 0.1 ms plus fping's rounding (it prints RTTs ≥ 10 ms to 0.1 ms).
    """
    lab = shared_tun_lab
    lab.set_delay("forward", Delay(delay_s=0.015))
    lab.set_delay("backward", Delay(delay_s=0.005))
    lab.bridge_log()
    fping_rtts = _fping_realtime(lab, 200)
    fping_log = lab.bridge_log()
    record = agents.measure(lab, "icmp", lab.server_addr, {"count": 200, "interval": "20ms"})
    log = lab.bridge_log()
    assert record.status is Status.OK, record.error
    ours_path, fping_path = _path_rtt(agents.rtts(record), log), _path_rtt(fping_rtts, fping_log)
    assert abs(ours_path - fping_path) < 0.00015, (ours_path, fping_path)
    # and against the delay the bridge really applied to each probe (set 20 ms): more by
    # the path's own round trip, under 0.5 ms
    assert 0 < ours_path < 0.0005, ours_path
    truth = _median(realised_round_trips(log["forward"], log["backward"], 200))
    assert abs(truth - 0.020) < 0.0005, truth


@needs_stamp
def test_stamp_median_rtt_and_one_way_delays(shared_tun_lab: Lab) -> None:
    """15 ms forward, 5 ms backward: RTT vs fping, one-way delays vs the set values.

    All namespaces share the host clock, so T2 − T1 and T4 − T3 are true one-way delays
    here whether or not the clocks claim synchronisation (``one_way_valid``).
    """
    lab = shared_tun_lab
    lab.set_delay("forward", Delay(delay_s=0.015))
    lab.set_delay("backward", Delay(delay_s=0.005))
    agents.start_reflector(lab)
    fping = _median(peers.run_fping(lab, lab.server_addr, count=200, period_s=0.02, timeout_s=1))
    lab.bridge_log()
    record = agents.measure(lab, "stamp", _stamp_target(lab), {"count": 200, "interval": "20ms"})
    log = lab.bridge_log()
    assert record.status is Status.OK, record.error
    result = _result(record)
    ours = _median(agents.rtts(record))
    assert abs(ours - fping) < 0.0005, (ours, fping)
    truth = _median(realised_round_trips(log["forward"], log["backward"], 200))
    assert abs(ours - truth) < 0.0005, (ours, truth)
    forward = _median([p.forward_delay_s for p in result.probes])
    backward = _median([p.backward_delay_s for p in result.probes])
    truth_fwd, truth_bwd = _median(log["forward"][:200]), _median(log["backward"][:200])
    assert abs(forward - truth_fwd) < 0.0005, (forward, truth_fwd)
    assert abs(backward - truth_bwd) < 0.0005, (backward, truth_bwd)
    assert abs(truth_fwd - 0.015) < 0.0005 and abs(truth_bwd - 0.005) < 0.0005


# jitter vs the realised truth --------------------------------------------------------
def _set_uniform_jitter(lab: Lab) -> None:
    for direction in ("forward", "backward"):
        lab.set_delay(direction, Delay(delay_s=0.010, jitter_s=JITTER_S))  # type: ignore[arg-type]
    lab.bridge_log()  # the next log holds exactly the packets of the measurement


def _close(value: object, truth: float | None, what: str) -> None:
    assert isinstance(value, float) and truth is not None and truth > 0, (what, value, truth)
    assert abs(value / truth - 1) < 0.10, (
        f"{what}: measured {value * 1e3:.4f} ms, truth {truth * 1e3:.4f} ms"
    )


def _assert_rtt_jitter(result: RttResult, detail: BridgeLog) -> None:
    """Our reported mean |IPDV| and RFC 3550 jitter within 10 % of the realised truth.

    The truth is the per-packet round-trip delay the bridge applied (``bridge_log``), so
    even the final RFC 3550 value — an EWMA over ≈ 16 packets, ≈ 15 % sampling s.d.
    around the theoretical 14/15·J — is compared packet for packet, not with a
    distribution.  test_lab_emulation checks the truth itself against the theory.
    The sanity check against the theory here uses the delays the bridge's model chose
    (applied minus the bridge's lateness): the lateness tail is the host's, several ms
    at p99 on a busy host, and it is in the truth the measurement is compared with.
    """
    log = detail.applied
    assert result.sent == JITTER_COUNT
    truth = realised_round_trips(log["forward"], log["backward"], JITTER_COUNT)
    assert all(t is not None for t in truth), "the bridge dropped packets"
    summary = metrics.summarize_rtt(result)
    assert summary["received"] == JITTER_COUNT
    _close(summary["jitter_mean_abs_diff_s"], metrics.jitter_mean_abs_diff_s(truth), "mean |IPDV|")
    _close(summary["jitter_rfc3550_s"], metrics.jitter_rfc3550_s(truth), "RFC 3550 jitter")
    ours_running = rfc3550_running(metrics.arrival_ordered_rtts(result.probes))
    truth_running = rfc3550_running([t for t in truth if t is not None])
    _close(
        statistics.fmean(ours_running[64:]),
        statistics.fmean(truth_running[64:]),
        "RFC 3550 run mean",
    )
    # and the model is what the theory says (sanity; the sharp check is in test_lab_emulation)
    theory = expected_abs_diff_rtt(JITTER_S, JITTER_S)
    model = realised_round_trips(
        detail.scheduled("forward"), detail.scheduled("backward"), JITTER_COUNT
    )
    model_running = rfc3550_running([t for t in model if t is not None])
    assert abs(statistics.fmean(model_running[64:]) / theory - 1) < 0.15


@needs_icmp
def test_icmp_jitter_matches_realised_truth(shared_tun_lab: Lab) -> None:
    lab = shared_tun_lab
    _set_uniform_jitter(lab)
    record = agents.measure(
        lab, "icmp", lab.server_addr, {"count": JITTER_COUNT, "interval": JITTER_INTERVAL_S}
    )
    detail = lab.bridge_log_detail()
    assert record.status is Status.OK, record.error
    _assert_rtt_jitter(_result(record), detail)


@needs_stamp
def test_stamp_jitter_matches_realised_truth(shared_tun_lab: Lab) -> None:
    """Round trip as for ICMP, plus each direction's mean |IPDV| and RFC 3550 jitter.

    One-way delays come from T2 − T1 and T4 − T3; clock offsets cancel in differences,
    so IPDV and jitter are valid even without synchronised clocks (docs/methods.md §7.5).
    """
    lab = shared_tun_lab
    agents.start_reflector(lab)
    _set_uniform_jitter(lab)
    record = agents.measure(
        lab, "stamp", _stamp_target(lab), {"count": JITTER_COUNT, "interval": JITTER_INTERVAL_S}
    )
    detail = lab.bridge_log_detail()
    log = detail.applied
    assert record.status is Status.OK, record.error
    result = _result(record)
    _assert_rtt_jitter(result, detail)
    by_seq = sorted(result.probes, key=lambda p: p.seq)
    for attr, direction in (("forward_delay_s", "forward"), ("backward_delay_s", "backward")):
        truth = log[direction][:JITTER_COUNT]
        series = [getattr(p, attr) for p in by_seq]
        _close(
            metrics.jitter_mean_abs_diff_s(series),
            metrics.jitter_mean_abs_diff_s(truth),
            f"{direction} mean |IPDV|",
        )
        _close(
            result.details[f"{direction}_jitter_rfc3550_s"],
            metrics.jitter_rfc3550_s(truth),
            f"{direction} RFC 3550 jitter",
        )
        theory = expected_abs_diff_one_way(JITTER_S)
        model = detail.scheduled(direction)[:JITTER_COUNT]
        assert abs(metrics.jitter_mean_abs_diff_s(model) / theory - 1) < 0.15  # type: ignore[operator]


# loss ---------------------------------------------------------------------------------
@needs_icmp
def test_icmp_loss_matches_router_counters(shared_lab: Lab) -> None:
    """2 % each way (ICMP only): every lost probe is one the router dropped."""
    lab, n, p = shared_lab, 2000, 0.02
    lab.set_loss("forward", p, protocol="icmp")
    lab.set_loss("backward", p, protocol="icmp")
    record = agents.measure(
        lab, "icmp", lab.server_addr, {"count": n, "interval": "2ms", "timeout": "500ms"}
    )
    assert record.status is Status.OK, record.error
    counters = lab.loss_counters()
    lost = sum(1 for r in agents.rtts(record) if r is None)
    assert counters["forward"]["seen"] == n
    assert lost == counters["forward"]["dropped"] + counters["backward"]["dropped"]
    summary = metrics.summarize_rtt(_result(record))
    assert summary["loss_ratio"] == lost / n
    lo, hi = clopper_pearson(lost, n, TEST_CONFIDENCE)
    assert lo <= 1 - (1 - p) ** 2 <= hi, (lost, lo, hi)


@needs_stamp
def test_stamp_loss_by_direction(shared_lab: Lab) -> None:
    """2 % forward, 5 % backward (UDP only), 3000 packets: per-direction counts are exact.

    Forward losses are gaps in the Session-Sender sequence seen by the stateful reflector,
    backward losses gaps in the reflector's own sequence (docs/methods.md §7.5).  Losses after
    the last reply cannot be attributed and are reported as unknown.
    """
    lab, n, p_fwd, p_bwd = shared_lab, 3000, 0.02, 0.05
    agents.start_reflector(lab)
    lab.set_loss("forward", p_fwd, protocol="udp")
    lab.set_loss("backward", p_bwd, protocol="udp")
    record = agents.measure(
        lab, "stamp", _stamp_target(lab), {"count": n, "interval": "2ms", "timeout": "500ms"}
    )
    assert record.status is Status.OK, record.error
    result = _result(record)
    details = result.details
    truth = lab.loss_counters()
    fwd_dropped, bwd_dropped = truth["forward"]["dropped"], truth["backward"]["dropped"]
    assert truth["forward"]["seen"] == n
    fwd, bwd, unknown = (
        details["forward_lost"],
        details["backward_lost"],
        details["lost_unknown_direction"],
    )
    assert fwd + bwd + unknown == fwd_dropped + bwd_dropped == result.sent - result.received
    assert fwd <= fwd_dropped <= fwd + unknown
    assert bwd <= bwd_dropped <= bwd + unknown
    assert unknown <= 5  # only a lossy tail after the last reply is unattributable
    per_probe = [p.lost_direction for p in result.probes if p.rtt_s is None]
    assert per_probe.count(LossDirection.FORWARD) <= fwd
    known = n - unknown
    lo, hi = clopper_pearson(fwd, known, TEST_CONFIDENCE)
    assert lo <= p_fwd <= hi, (fwd, known, lo, hi)
    reached = known - fwd
    lo, hi = clopper_pearson(bwd, reached, TEST_CONFIDENCE)
    assert lo <= p_bwd <= hi, (bwd, reached, lo, hi)
    assert details["forward_loss_ratio"] == pytest.approx(fwd / known)
    assert details["backward_loss_ratio"] == pytest.approx(bwd / reached)


# blackhole ----------------------------------------------------------------------------
@needs_icmp
def test_icmp_blackhole_is_total_loss(shared_lab: Lab) -> None:
    shared_lab.set_blackhole(True)
    record = agents.measure(
        shared_lab,
        "icmp",
        shared_lab.server_addr,
        {"count": 10, "interval": "20ms", "timeout": "300ms"},
    )
    assert record.status in (Status.TIMEOUT, Status.UNREACHABLE), record.status
    result = _result(record)
    assert result.sent == 10 and result.received == 0
    assert metrics.summarize_rtt(result)["loss_ratio"] == 1.0


@needs_stamp
def test_stamp_blackhole_is_total_loss(shared_lab: Lab) -> None:
    agents.start_reflector(shared_lab)
    shared_lab.set_blackhole(True)
    record = agents.measure(
        shared_lab,
        "stamp",
        _stamp_target(shared_lab),
        {"count": 10, "interval": "20ms", "timeout": "300ms"},
    )
    assert record.status in (Status.TIMEOUT, Status.UNREACHABLE), record.status
    result = _result(record)
    assert result.sent == 10 and result.received == 0
    assert metrics.summarize_rtt(result)["loss_ratio"] == 1.0
