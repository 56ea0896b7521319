"""Lab acceptance for the native iperf3 client (docs/methods.md §12.2, §12.5, §12.6).

A tbf bottleneck in the router namespace; Debian's ``iperf3 -s`` in the server namespace;
Debian's ``iperf3`` client and our ``iperf3`` collector in the client namespace, one after
the other on the same link in the same test.  Our goodput must be within 5 % of iperf3's
receiver-side figure and never above the set rate; UDP loss must match the router's exact
drop counters (iptables ground truth).
"""

from __future__ import annotations

import pytest

from qos import metrics
from qos.records import Status, ThroughputResult
from qos_lab import peers
from qos_lab.netlab import Delay, Lab, Rate

pytestmark = [pytest.mark.lab, pytest.mark.slow]

RATE_BPS = 50e6


#: a second Debian iperf3 server, under SCHED_FIFO, for the UDP jitter test
REALTIME_PORT = peers.IPERF3_PORT + 1


def _ours(lab: Lab, params: dict[str, object], port: int = peers.IPERF3_PORT) -> ThroughputResult:
    m = lab.run_collector("iperf3", f"{lab.server_addr}:{port}", params)
    assert m.status is Status.OK, m.error  # type: ignore[attr-defined]
    result = m.result  # type: ignore[attr-defined]
    assert isinstance(result, ThroughputResult) and result.goodput_bps is not None
    return result


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_goodput_within_5_percent_of_iperf3_at_50mbit(shared_lab: Lab, direction: str) -> None:
    lab = shared_lab
    download = direction == "download"
    lab.set_rate("backward" if download else "forward", Rate(RATE_BPS))
    peers.start_iperf3_server(lab)
    iperf = peers.run_iperf3(
        lab, lab.server_addr, seconds=8, omit_s=2, reverse=download, extra=["-P", "4"]
    )
    ours = _ours(lab, {"streams": 4, "duration": 8, "omit": 2, "reverse": download})
    ratio = ours.goodput_bps / iperf.bits_per_second  # type: ignore[operator]
    server_view = ours.details["server_rate_bps"]
    print(
        f"\n{direction} at {RATE_BPS / 1e6:g} Mbit/s tbf: iperf3 {iperf.bits_per_second / 1e6:.3f}"
        f", ours {ours.goodput_bps / 1e6:.3f} Mbit/s (ratio {ratio:.4f}); "  # type: ignore[operator]
        f"server-side count of our test {server_view / 1e6:.3f} Mbit/s"
    )
    assert ours.direction == direction
    assert iperf.bits_per_second <= RATE_BPS
    assert ours.goodput_bps <= RATE_BPS  # type: ignore[operator]
    assert abs(ratio - 1) <= 0.05
    # what we measured on our side agrees with what the server counted in the same test
    assert ours.goodput_bps == pytest.approx(server_view, rel=0.05)
    per_interval = [i.rate_bps for i in ours.intervals if not i.warmup]
    assert len(per_interval) >= 4 * 70  # 100 ms samples of 4 streams over 8 s


@pytest.mark.parametrize("reverse", [False, True])
def test_udp_loss_matches_the_routers_drop_counters(shared_lab: Lab, reverse: bool) -> None:
    """5 % random drop at the router: our loss count is exactly what the kernel dropped.

    Two kernel counters are the truth: the router's drop rule, and the receiving
    namespace's UDP ``RcvbufErrors`` (datagrams that reached the receiver's socket when
    its buffer was full).  On a busy host a normal-priority Debian server stopped reading
    for long enough that 221 datagrams overflowed its socket on top of the router's 142
    (it reported 363 of 2998 lost); the server runs under SCHED_FIFO here as in the
    jitter test, and any such drop is still counted as loss, as the kernel counted it.
    """
    lab = shared_lab
    direction = "backward" if reverse else "forward"
    receiver_ns = lab.client_ns if reverse else lab.server_ns
    lab.set_loss(direction, 0.05, protocol="udp")
    peers.start_iperf3_server(lab, REALTIME_PORT, realtime=True)
    before = lab.udp_counters(receiver_ns)["RcvbufErrors"]
    ours = _ours(
        lab,
        {
            "protocol": "udp",
            "rate": 4e6,
            "length": 1000,
            "duration": 5,
            "omit": 1,
            "reverse": reverse,
        },
        port=REALTIME_PORT,
    )
    overflow = lab.udp_counters(receiver_ns)["RcvbufErrors"] - before
    truth = lab.loss_counters()[direction]
    d = ours.details
    # the router saw our datagrams (+ the connect datagram); gap-based counting misses only
    # drops after the last datagram that arrived
    print(
        f"\nUDP {'download' if reverse else 'upload'} 5 % loss: router dropped "
        f"{truth['dropped']} of {truth['seen']}, receiver socket overflowed {overflow}; we "
        f"report {d['udp_lost_packets']} of {d['udp_packets']} ({d['loss_source']}), "
        f"loss ratio {d['loss_ratio']:.4f}"
    )
    dropped = truth["dropped"] + overflow
    # the router's counters are the truth: every datagram we count crossed it (+ connect)
    assert truth["seen"] - 2 <= d["udp_packets"] <= truth["seen"]
    assert d["udp_packets"] > 0.5 * 4e6 * 6 / 8 / 1000  # the stream really ran
    assert dropped - 3 <= d["udp_lost_packets"] <= dropped
    assert d["loss_ratio"] == pytest.approx(dropped / truth["seen"], abs=0.005)
    assert 0.03 < truth["dropped"] / truth["seen"] < 0.07
    # goodput counts only what arrived: (1 − loss) of the rate offered to the router, which
    # a busy host can hold below the set 4 Mbit/s (the sender is a user-space timer loop)
    offered_bps = truth["seen"] * 1000 * 8 / 6.0  # 1 s omitted + 5 s measured
    assert ours.goodput_bps == pytest.approx(offered_bps * (1 - d["loss_ratio"]), rel=0.03)


@pytest.mark.parametrize("reverse", [False, True])
def test_udp_jitter_against_set_delay_variation(shared_tun_lab: Lab, reverse: bool) -> None:
    """Uniform ±J one-way delay → E|D| = 2J/3 between consecutive datagrams (§6.1).

    40 datagrams/s (T = 25 ms ≥ 2J) keeps the bridge's FIFO from correlating delays.  The
    RFC 3550 estimator is an exponential filter (gain 1/16), so its final value scatters by
    roughly ±15 % (1σ) around 2J/3; the mean |D| over our ~600 datagrams scatters by ~4 %.
    That mean is compared with the delays the bridge applied to the same packets: on a
    busy host the bridge's late releases raise it (6.43 ms against 2J/3 = 5.33 ms seen),
    and the bridge's model draws are checked against 2J/3 separately.

    The Debian server runs under SCHED_FIFO here, as the lab's other timing peers do: on
    upload it is the receiver, and it stamps each datagram in user space after ``recv``;
    at normal priority on a busy host its RFC 3550 figure for our stream read 9.13 ms
    (+71 %) while the bridge's realised delays gave mean |D| 5.57 ms.
    """
    lab = shared_tun_lab
    jitter = 0.008
    direction = "backward" if reverse else "forward"
    lab.set_delay(direction, Delay(0.010, jitter))
    peers.start_iperf3_server(lab, REALTIME_PORT, realtime=True)
    expected = 2 * jitter / 3
    udp = ["-u", "-b", "320K", "-l", "1000"]
    iperf = peers.run_iperf3(
        lab, lab.server_addr, seconds=8, omit_s=1, reverse=reverse, port=REALTIME_PORT, extra=udp
    )
    lab.bridge_log()  # the next log holds the packets of our test only
    ours = _ours(
        lab,
        {
            "protocol": "udp",
            "rate": 320e3,
            "length": 1000,
            "duration": 15,
            "omit": 1,
            "reverse": reverse,
        },
        port=REALTIME_PORT,
    ).details
    detail = lab.bridge_log_detail()
    realised = metrics.jitter_mean_abs_diff_s(detail.applied[direction])
    model = metrics.jitter_mean_abs_diff_s(detail.scheduled(direction))
    assert realised is not None and model is not None
    print(
        f"\nUDP {'download' if reverse else 'upload'} ±{jitter * 1e3:g} ms: expected E|D| "
        f"{expected * 1e3:.3f} ms; RFC 3550 jitter ours {ours['jitter_rfc3550_s'] * 1e3:.3f}, "
        f"Debian iperf3 {iperf.jitter_s * 1e3:.3f} ms"  # type: ignore[operator]
        + (f"; our mean |D| {ours['jitter_mean_abs_diff_s'] * 1e3:.3f} ms" if reverse else "")
        + f"; bridge mean |D| realised {realised * 1e3:.3f}, model {model * 1e3:.3f} ms"
    )
    # the lab itself is sane: the emulator's draws (Debian iperf3's figure is printed
    # only: its user-space receive stamps put it at 7.4 ms, +38 %, under two busy loops)
    assert model == pytest.approx(expected, rel=0.15)
    assert iperf.jitter_s is not None
    assert ours["jitter_rfc3550_s"] == pytest.approx(expected, rel=0.5)
    assert ours["loss_ratio"] == 0
    if reverse:
        # against the delays the bridge really applied to this run's packets (its lateness
        # tail, several ms at p99 on a busy host, is in both); the few control-connection
        # packets in the log barely move a mean over ~640 datagrams
        assert ours["jitter_mean_abs_diff_s"] == pytest.approx(realised, rel=0.15)


def test_udp_upload_survives_a_lost_connect_reply(shared_lab: Lab) -> None:
    """Every UDP datagram towards the client is dropped, so the server's connect reply never
    arrives; the server's TEST_START on the control connection proves the stream was taken."""
    lab = shared_lab
    lab.set_loss("backward", 1.0, protocol="udp")
    peers.start_iperf3_server(lab)
    ours = _ours(lab, {"protocol": "udp", "rate": 2e6, "length": 1000, "duration": 2, "omit": 0})
    assert lab.loss_counters()["backward"]["dropped"] >= 1  # the reply(s) really were lost
    assert ours.details["loss_ratio"] == 0
    # goodput is what the receiving server counted over the 2 s (a busy host can hold the
    # user-space sender below the set 2 Mbit/s; the stream must still have run)
    received = ours.details["udp_packets"]
    assert received > 0.5 * 2e6 * 2 / 8 / 1000, ours.details
    assert ours.goodput_bps == pytest.approx(received * 1000 * 8 / 2, rel=0.03)
