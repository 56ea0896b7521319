"""The lab proves itself: set impairments are what real peer tools observe (docs/methods.md §12).

These tests use only real peers (fping, irtt, iperf3) and the router's own counters, so a
wrong lab cannot hide behind the code under test.  Tolerances are stated where used.
"""

from __future__ import annotations

import statistics
import subprocess
import time

import pytest

from qos import metrics
from tests.lab import peers
from tests.lab.netlab import Delay, Lab, LabError, Rate, list_namespaces
from tests.lab.stats import (
    clopper_pearson,
    expected_abs_diff_one_way,
    expected_abs_diff_rtt,
    realised_round_trips,
    rfc3550_running,
)

pytestmark = pytest.mark.lab

#: confidence of the binomial intervals asserted below.  A 95 % interval misses the true
#: probability in up to 5 % of correct runs by construction; tests assert 99.9 % so that
#: a CI failure means a broken emulator, and benchmarks/accuracy.py reports the 95 % ones.
TEST_CONFIDENCE = 0.999


def test_lab_is_isolated_and_connected(lab: Lab) -> None:
    rtts = peers.run_fping(lab, lab.server_addr, count=10, period_s=0.02, timeout_s=0.5)
    assert all(r is not None for r in rtts), rtts
    assert max(r for r in rtts if r is not None) < 0.05
    # no default route anywhere: nothing can leave the machine (preamble hard rule)
    for ns in (lab.client_ns, lab.router_ns, lab.server_ns):
        out = lab.exec_in(ns, ["ip", "route", "show", "default"]).stdout
        assert out.strip() == "", f"{ns} has a default route: {out}"
    unreachable = lab.exec_client(["ip", "route", "get", "192.0.2.1"])
    assert unreachable.returncode != 0


def test_close_removes_everything_and_stale_cleanup() -> None:
    from tests.lab import netlab

    with Lab(tun=True) as built:
        names = [built.client_ns, built.router_ns, built.server_ns]
        assert set(names) <= set(list_namespaces())
        bridge = built._bridge
        assert bridge is not None and bridge.poll() is None
    assert not set(names) & set(list_namespaces())
    assert bridge.poll() is not None
    # a namespace named for a dead creator is stale and removed; a live one is kept
    dead = "qlab-999999999-abcdef-c"
    alive = f"qlab-{netlab.os.getpid()}-fedcba-c"
    for ns in (dead, alive):
        netlab.run(["ip", "netns", "add", ns])
    try:
        removed = netlab.cleanup_stale()
        assert dead in removed
        assert alive not in removed and alive in list_namespaces()
    finally:
        for ns in (dead, alive):
            netlab.delete_namespace(ns)


def test_close_after_failure_inside_context() -> None:
    names: list[str] = []
    with pytest.raises(RuntimeError, match="boom"), Lab(tun=False) as built:
        names = [built.client_ns, built.router_ns, built.server_ns]
        built.spawn_server(["sleep", "300"])
        raise RuntimeError("boom")
    assert names and not set(names) & set(list_namespaces())


@pytest.mark.parametrize(("forward_mbit", "backward_mbit"), [(50, 20)])
def test_tbf_rate_seen_by_iperf3(shared_lab: Lab, forward_mbit: int, backward_mbit: int) -> None:
    """tbf on each router egress; iperf3 TCP goodput must be 90–100 % of the set rate.

    tbf counts whole frames (Ethernet header included on veth), so TCP payload is at most
    1448/1514 ≈ 95.6 % of the rate; the lower bound leaves room for TCP ramp-up.
    """
    shared_lab.set_rate("forward", Rate(forward_mbit * 1e6))
    shared_lab.set_rate("backward", Rate(backward_mbit * 1e6))
    peers.start_iperf3_server(shared_lab)
    up = peers.run_iperf3(shared_lab, shared_lab.server_addr, seconds=3.0)
    down = peers.run_iperf3(shared_lab, shared_lab.server_addr, seconds=3.0, reverse=True)
    assert 0.90 * forward_mbit * 1e6 <= up.bits_per_second <= 1.0 * forward_mbit * 1e6, up
    assert 0.90 * backward_mbit * 1e6 <= down.bits_per_second <= 1.0 * backward_mbit * 1e6, down


def test_tbf_deep_queue_builds_queueing_delay(shared_lab: Lab) -> None:
    """10 Mbit/s with a 125 000-byte tbf queue, flooded by 15 Mbit/s of UDP: the queue stays
    full, so a ping waits ≈ 125 000·8 / 10⁷ = 100 ms (less up to one packet's worth)."""
    rate, queue = 10e6, 125_000
    shared_lab.set_rate("forward", Rate(rate, queue_bytes=queue))
    peers.start_iperf3_server(shared_lab)
    flood = shared_lab.spawn_client(
        ["iperf3", "-c", shared_lab.server_addr, "-u", "-b", "15M", "-t", "3", "-J"],
        stdout=subprocess.PIPE,
    )
    time.sleep(1.0)  # let the queue fill
    rtts = peers.run_fping(
        shared_lab, shared_lab.server_addr, count=20, period_s=0.05, timeout_s=1.0
    )
    out, _ = flood.communicate(timeout=30)
    shared_lab.stop(flood)
    udp = peers.parse_iperf3_json(out)
    expected = queue * 8 / rate
    got = [r for r in rtts if r is not None]
    assert len(got) >= 15, rtts  # a ping may find the queue full and be tail-dropped
    assert expected - 0.005 <= statistics.median(got) <= expected + 0.002, got
    assert 0.90 * rate <= udp.bits_per_second <= rate, udp
    assert udp.lost_packets is not None and udp.lost_packets > 0


def test_iptables_loss_per_direction(shared_lab: Lab) -> None:
    """Random drop 3 % forward, 6 % backward (ICMP only), 2000 fping probes.

    Ground truth is twofold: the router's drop counters must explain every probe fping
    lost, and each direction's observed ratio has a binomial interval containing the set
    probability (Clopper–Pearson, docs/methods.md §9.1).
    """
    p_fwd, p_bwd, n = 0.03, 0.06, 2000
    shared_lab.set_loss("forward", p_fwd, protocol="icmp")
    shared_lab.set_loss("backward", p_bwd, protocol="icmp")
    rtts = peers.run_fping(
        shared_lab, shared_lab.server_addr, count=n, period_s=0.002, timeout_s=0.5
    )
    counters = shared_lab.loss_counters()
    fwd, bwd = counters["forward"], counters["backward"]
    lost = sum(1 for r in rtts if r is None)
    assert fwd["seen"] == n
    assert bwd["seen"] == n - fwd["dropped"]
    assert lost == fwd["dropped"] + bwd["dropped"]
    lo, hi = clopper_pearson(fwd["dropped"], fwd["seen"], TEST_CONFIDENCE)
    assert lo <= p_fwd <= hi, (fwd, lo, hi)
    lo, hi = clopper_pearson(bwd["dropped"], bwd["seen"], TEST_CONFIDENCE)
    assert lo <= p_bwd <= hi, (bwd, lo, hi)
    # round trip: P(lost) = 1 − (1 − p_f)(1 − p_b)
    p_rt = 1 - (1 - p_fwd) * (1 - p_bwd)
    lo, hi = clopper_pearson(lost, n, TEST_CONFIDENCE)
    assert lo <= p_rt <= hi, (lost, n, lo, hi)


def test_blackhole_gives_total_loss(shared_lab: Lab) -> None:
    shared_lab.set_blackhole(True)
    rtts = peers.run_fping(
        shared_lab, shared_lab.server_addr, count=20, period_s=0.02, timeout_s=0.2
    )
    assert rtts == [None] * 20
    shared_lab.set_blackhole(False)
    rtts = peers.run_fping(
        shared_lab, shared_lab.server_addr, count=5, period_s=0.02, timeout_s=0.5
    )
    assert all(r is not None for r in rtts)


def test_tun_delay_median_rtt(shared_tun_lab: Lab) -> None:
    """10 ms each way through the TUN bridge: fping median RTT within 0.5 ms of 20 ms."""
    shared_tun_lab.set_delay("forward", Delay(delay_s=0.010))
    shared_tun_lab.set_delay("backward", Delay(delay_s=0.010))
    rtts = peers.run_fping(
        shared_tun_lab, shared_tun_lab.server_addr, count=100, period_s=0.02, timeout_s=1.0
    )
    got = [r for r in rtts if r is not None]
    assert len(got) == 100
    assert abs(statistics.median(got) - 0.020) < 0.0005, statistics.median(got)
    assert min(got) >= 0.020 - 0.0001  # the bridge never releases early


def test_tun_delay_is_per_direction(shared_tun_lab: Lab) -> None:
    """15 ms forward, 5 ms backward: irtt's one-way medians (same host clock) split so.

    The round trip is compared with the set delays plus the path's own base RTT through
    the bridge (two TUN crossings and the bridge's wake-ups, ~0.4–0.5 ms here), measured
    by irtt on the same lab with no delay set.
    """
    target = f"{shared_tun_lab.server_addr}:{peers.IRTT_PORT}"
    peers.start_irtt_server(shared_tun_lab)
    base = peers.run_irtt(shared_tun_lab, target, count=50, interval_s=0.02)
    base_rtt = base.stat_s("rtt", "median")
    assert base_rtt is not None and base_rtt < 0.002, base_rtt
    shared_tun_lab.set_delay("forward", Delay(delay_s=0.015))
    shared_tun_lab.set_delay("backward", Delay(delay_s=0.005))
    shared_tun_lab.bridge_log()  # the next log holds the packets of this run only
    result = peers.run_irtt(shared_tun_lab, target, count=100, interval_s=0.02)
    log = shared_tun_lab.bridge_log()
    applied = {d: statistics.median(v for v in log[d] if v is not None) for d in log}
    send = result.stat_s("send_delay", "median")
    receive = result.stat_s("receive_delay", "median")
    rtt = result.stat_s("rtt", "median")
    assert send is not None and receive is not None and rtt is not None
    print(f"\nbase {base_rtt}, applied {applied}, irtt send {send}, receive {receive}, rtt {rtt}")
    # the bridge applies the set delay per direction ...
    assert abs(applied["forward"] - 0.015) < 0.0005, applied
    assert abs(applied["backward"] - 0.005) < 0.0005, applied
    # ... and irtt sees it so
    assert abs(send - 0.015) < 0.0005, send
    assert abs(receive - 0.005) < 0.0005, receive
    assert abs(rtt - (base_rtt + 0.020)) < 0.0005, (rtt, base_rtt)


def test_tun_uniform_jitter_matches_theory(shared_tun_lab: Lab) -> None:
    """10 ± 2.5 ms each way (uniform), 1000 irtt packets every 10 ms (≥ 4·J: no FIFO clamp).

    Theory (tests.lab.stats): E|ΔRTT| = 14/15·J = 2.333 ms, E|Δone-way| = 2J/3 = 1.667 ms;
    the RFC 3550 estimator's steady-state mean is the same E|ΔRTT|.  Two checks:

    * the lab: the delays the bridge really applied (``bridge_log``: jitter draws plus its
      own scheduling lateness) give mean |IPDV| and the run average of the RFC 3550 filter
      within 10 % of theory (sampling s.d. of these means with 1000 packets ≈ 2.7 %);
    * the peer: irtt's own mean |IPDV| (round trip and each direction) and the final RFC
      3550 value over irtt's RTTs are within 10 % of the same figures of the realised
      delays.  (The final value alone is not compared with theory: an EWMA over ≈ 16
      packets has a sampling s.d. of ≈ 15 % whatever the packet count.)
    """
    j, n = 0.0025, 1000
    lab = shared_tun_lab
    lab.set_delay("forward", Delay(delay_s=0.010, jitter_s=j))
    lab.set_delay("backward", Delay(delay_s=0.010, jitter_s=j))
    peers.start_irtt_server(lab)
    lab.bridge_log()  # discard the packets of earlier tests
    result = peers.run_irtt(lab, f"{lab.server_addr}:{peers.IRTT_PORT}", count=n, interval_s=0.01)
    log = lab.bridge_log()
    theory_rt = expected_abs_diff_rtt(j, j)
    theory_ow = expected_abs_diff_one_way(j)
    # irtt opens its session with one exchange before the probes: skip it
    count = len(result.round_trips)
    truth_rt = realised_round_trips(log["forward"], log["backward"], count, skip=1)
    truth_fwd = log["forward"][1 : count + 1]
    truth_bwd = log["backward"][1 : count + 1]
    # the lab against theory
    real_rt = metrics.jitter_mean_abs_diff_s(truth_rt)
    real_fwd = metrics.jitter_mean_abs_diff_s(truth_fwd)
    real_bwd = metrics.jitter_mean_abs_diff_s(truth_bwd)
    assert real_rt is not None and real_fwd is not None and real_bwd is not None
    assert abs(real_rt / theory_rt - 1) < 0.10, (real_rt, theory_rt)
    assert abs(real_fwd / theory_ow - 1) < 0.10, (real_fwd, theory_ow)
    assert abs(real_bwd / theory_ow - 1) < 0.10, (real_bwd, theory_ow)
    real_running = rfc3550_running([r for r in truth_rt if r is not None])
    assert abs(statistics.fmean(real_running[64:]) / theory_rt - 1) < 0.10
    # the bridge adds no delay below its setting and stays within the jitter band
    applied = [d for d in log["forward"] + log["backward"] if d is not None]
    assert min(applied) >= 0.010 - j - 0.0001
    p99 = metrics.percentile(applied, 0.99)
    assert p99 is not None and p99 <= 0.010 + j + 0.0005, p99
    # irtt against the realised truth
    rtts = [r for r in result.rtts_s if r is not None]
    assert len(rtts) >= n - 5
    for name, truth in (
        ("ipdv_round_trip", real_rt),
        ("ipdv_send", real_fwd),
        ("ipdv_receive", real_bwd),
    ):
        value = result.stat_s(name, "mean")
        assert value is not None and abs(value / truth - 1) < 0.10, (name, value, truth)
    final = metrics.jitter_rfc3550_s(result.arrival_ordered_rtts_s())
    assert final is not None and abs(final / real_running[-1] - 1) < 0.10


def test_bridge_rate_and_seeded_drop(shared_tun_lab: Lab) -> None:
    """The TUN bridge's own rate limit and random drop (docs/methods.md §12.3)."""
    lab = shared_tun_lab
    lab.set_delay("forward", Delay(rate_bps=20e6, queue_bytes=100_000))
    peers.start_iperf3_server(lab)
    tcp = peers.run_iperf3(lab, lab.server_addr, seconds=3.0)
    assert 0.90 * 20e6 <= tcp.bits_per_second <= 20e6, tcp
    lab.set_delay("forward", Delay(loss=0.05))
    before = lab.bridge_stats()["forward"]
    n = 1000
    rtts = peers.run_fping(lab, lab.server_addr, count=n, period_s=0.002, timeout_s=0.5)
    after = lab.bridge_stats()["forward"]
    dropped = int(after["dropped_random"] - before["dropped_random"])
    assert after["received"] - before["received"] == n
    assert sum(1 for r in rtts if r is None) == dropped
    lo, hi = clopper_pearson(dropped, n, TEST_CONFIDENCE)
    assert lo <= 0.05 <= hi, (dropped, lo, hi)


@pytest.mark.parametrize("fifo", [True, False])
def test_bridge_fifo_never_reorders(shared_tun_lab: Lab, fifo: bool) -> None:
    """±5 ms jitter with a packet every 1 ms reorders under independent delays; the
    bridge keeps FIFO order per direction by default (docs/methods.md §12.3), so irtt sees no
    late (out-of-order) packet; with ``fifo=False`` it must see some (the check can fail)."""
    lab = shared_tun_lab
    for direction in ("forward", "backward"):
        lab.set_delay(direction, Delay(delay_s=0.010, jitter_s=0.005, fifo=fifo))  # type: ignore[arg-type]
    peers.start_irtt_server(lab)
    lab.bridge_log()
    result = peers.run_irtt(
        lab, f"{lab.server_addr}:{peers.IRTT_PORT}", count=1000, interval_s=0.001
    )
    log = lab.bridge_log()
    # irtt's timer may send fewer than 1000 packets in the second on a busy host
    assert result.stats["packets_sent"] >= 500
    assert result.stats["packets_received"] == result.stats["packets_sent"]
    if not fifo:
        assert result.stats["late_packets"] > 0
        return
    assert result.stats["late_packets"] == 0, result.stats["late_packets"]
    applied = [d for d in log["forward"] + log["backward"] if d is not None]
    assert min(applied) >= 0.005 - 0.0001


def test_delay_needs_tun(shared_lab: Lab) -> None:
    with pytest.raises(LabError, match="no TUN bridge"):
        shared_lab.set_delay("forward", Delay(delay_s=0.01))
