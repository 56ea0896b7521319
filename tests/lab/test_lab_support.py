"""Pure tests of the lab's parsers and statistics (no root needed, not marked ``lab``)."""

from __future__ import annotations

import json
import random

import pytest

from qos_lab import peers, tunbridge
from qos_lab.stats import (
    clopper_pearson,
    expected_abs_diff_one_way,
    expected_abs_diff_rtt,
    expected_abs_sum_uniform,
    rfc3550_running,
)
from qos_lab.tunbridge import DirectionParams


def test_parse_fping_vcount() -> None:
    text = "198.18.2.2 : 20.2 - 0.094 1.51\n198.18.2.3 : - -\nICMP Host Unreachable junk\n"
    parsed = peers.parse_fping_vcount(text)
    assert parsed["198.18.2.2"] == pytest.approx([0.0202, None, 0.000094, 0.00151])
    assert parsed["198.18.2.3"] == [None, None]
    assert len(parsed) == 2


def test_fping_argv_always_has_timeout() -> None:
    argv = peers.fping_argv("198.18.2.2", count=5, period_s=0.02, timeout_s=1.5)
    assert argv[argv.index("-t") + 1] == "1500"
    assert argv[argv.index("-p") + 1] == "20"
    assert argv[argv.index("-C") + 1] == "5"


def test_parse_irtt_json_units_and_loss() -> None:
    doc = {
        "stats": {
            "ipdv_round_trip": {"n": 1, "mean": 2_500_000},
            "rtt": {"n": 0},
            "upstream_loss_percent": 25.0,
            "downstream_loss_percent": 0,
        },
        "round_trips": [
            {
                "seqno": 0,
                "lost": "false",
                "delay": {"rtt": 20_000_000, "send": 12_000_000, "receive": 8_000_000},
                "timestamps": {"client": {"receive": {"monotonic": 50}}},
            },
            {"seqno": 1, "lost": "true_up", "delay": {}, "timestamps": {}},
        ],
    }
    res = peers.parse_irtt_json(json.dumps(doc))
    assert res.rtts_s == [0.020, None]
    assert res.round_trips[0].send_delay_s == 0.012
    assert res.stat_s("ipdv_round_trip", "mean") == 0.0025
    assert res.stat_s("rtt", "mean") is None  # n == 0
    assert res.upstream_loss_ratio == 0.25
    doc["round_trips"][0]["delay"]["rtt"] = 2.5  # irtt never prints fractional ns
    with pytest.raises(peers.PeerOutputError):
        peers.parse_irtt_json(json.dumps(doc))


def test_parse_iperf3_json() -> None:
    tcp = {
        "end": {
            "sum_received": {"bits_per_second": 4.7e7, "bytes": 5875000},
            "sum_sent": {"retransmits": 3},
        }
    }
    parsed_tcp = peers.parse_iperf3_json(json.dumps(tcp))
    assert parsed_tcp.bits_per_second == 4.7e7 and parsed_tcp.bytes == 5875000
    udp = {
        "start": {"test_start": {"protocol": "UDP"}},
        "end": {
            "sum": {"bits_per_second": 1.5e7, "jitter_ms": 0.5, "lost_packets": 3, "packets": 9},
            "sum_received": {"bits_per_second": 1.0e7},
        },
    }
    parsed = peers.parse_iperf3_json(json.dumps(udp))
    assert parsed.bits_per_second == 1.0e7  # received, not offered
    assert parsed.jitter_s == 0.0005 and parsed.lost_packets == 3
    with pytest.raises(peers.PeerOutputError, match="busy"):
        peers.parse_iperf3_json(json.dumps({"error": "the server is busy"}))


def test_clopper_pearson_vector() -> None:
    # docs/methods.md §9.1 (SciPy docs example)
    lo, hi = clopper_pearson(7, 50)
    assert lo == pytest.approx(0.058191700, abs=1e-9)
    assert hi == pytest.approx(0.267396002, abs=1e-9)
    assert clopper_pearson(0, 10)[0] == 0.0
    assert clopper_pearson(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


def test_uniform_theory_closed_forms() -> None:
    assert expected_abs_sum_uniform((1.0,)) == pytest.approx(0.5, rel=1e-3)
    assert expected_abs_sum_uniform((1.0, 1.0)) == pytest.approx(2 / 3, rel=1e-3)
    assert expected_abs_diff_rtt(1.0, 1.0) == pytest.approx(14 / 15, rel=1e-3)
    assert expected_abs_diff_one_way(0.003) == pytest.approx(0.002)
    assert expected_abs_diff_rtt(0.0, 0.0) == 0.0


def test_uniform_theory_against_simulation() -> None:
    rng = random.Random(7)
    jf, jb, n = 0.005, 0.002, 200_000
    sim = (
        sum(
            abs(
                rng.uniform(-jf, jf)
                - rng.uniform(-jf, jf)
                + rng.uniform(-jb, jb)
                - rng.uniform(-jb, jb)
            )
            for _ in range(n)
        )
        / n
    )
    assert expected_abs_diff_rtt(jf, jb) == pytest.approx(sim, rel=0.01)


def test_rfc3550_running_matches_vector_a() -> None:
    # docs/methods.md §6.1 vector A, transit in ms: R − S
    transit = [100 - 0, 120 - 20, 145 - 40, 160 - 60, 180 - 80, 205 - 100]
    assert rfc3550_running([float(t) for t in transit]) == pytest.approx(
        [0.0, 0.3125, 0.60546875, 0.567626953125, 0.8446502685546875]
    )


def test_bridge_params_validation() -> None:
    with pytest.raises(ValueError, match="jitter"):
        DirectionParams(delay_s=0.001, jitter_s=0.002)
    with pytest.raises(ValueError, match="unknown"):
        DirectionParams().updated({"delay": 1})
    assert DirectionParams().updated({"loss": 0.5}).loss == 0.5


def test_seeded_drop_pattern_is_the_bridge_s() -> None:
    """After ``SEED n`` the bridge drops exactly the packets ``drop_pattern`` names, in each
    direction independently of the other's traffic."""
    params = DirectionParams(loss=0.3, delay_s=0.01)
    dirs = {key: tunbridge.Direction(-1, -1, params, random.Random(1)) for key in ("a2b", "b2a")}
    assert tunbridge._handle_control("SEED 7", dirs) == "OK"
    assert tunbridge._handle_control("SEED x", dirs).startswith("ERROR")
    for i in range(300):
        dirs["a2b"].accept(b"p", float(i))
        if i % 3 == 0:
            dirs["b2a"].accept(b"q", float(i))
    for key, count in (("a2b", 300), ("b2a", 100)):
        expected = tunbridge.drop_pattern(7, key, 0.3, count)
        kept = [slot for _release, _arrival, slot, _packet in dirs[key].queue]
        assert kept == [i for i, dropped in enumerate(expected) if not dropped]
        assert dirs[key].counters.dropped_random == sum(expected) > 0


def test_uniform_sum_quantile_triangle() -> None:
    from qos_lab.stats import uniform_sum_quantile

    # triangle on [-2, 2]: P(X > x) = (2 - x)^2 / 8 → q95 = 2(1 - sqrt(0.1))
    assert uniform_sum_quantile((1.0, 1.0), 0.95) == pytest.approx(2 * (1 - 0.1**0.5), abs=1e-3)
    assert uniform_sum_quantile((1.0, 1.0), 0.5) == pytest.approx(0.0, abs=1e-3)
    assert uniform_sum_quantile((0.004,), 0.75) == pytest.approx(0.002, rel=1e-3)


def test_realised_round_trips_pairs_by_direction() -> None:
    from qos_lab.stats import realised_round_trips

    fwd = [0.5, 1.0, None, 2.0, 3.0, 9.0]
    bwd = [0.5, 1.5, 2.5, None, 9.0]
    # skip the first exchange; the forward drop (None) has no backward packet
    assert realised_round_trips(fwd, bwd, 4, skip=1) == [2.5, None, 4.5, None]
    with pytest.raises(ValueError, match="forward packets"):
        realised_round_trips(fwd, bwd, 6, skip=1)


def test_qdisc_parse_and_windows() -> None:
    from qos_lab.qdisc import QdiscSample, parse_qdisc_json, windows

    text = (
        '[{"kind":"tbf","handle":"8001:","root":true,"bytes":3028,"packets":2,"drops":1,'
        '"overlimits":5,"requeues":0,"backlog":1514,"qlen":1}]'
    )
    parsed = parse_qdisc_json(text)
    assert parsed is not None and (parsed.bytes, parsed.drops, parsed.backlog) == (3028, 1, 1514)
    assert parse_qdisc_json(text, kind="fq_codel") is None

    def at(t: float, sent: int, backlog: int) -> QdiscSample:
        return QdiscSample(t, t + 0.001, sent, sent // 1000, 0, 0, backlog, 1)

    # 1 Mbit/s for 1 s with a 1000-byte bucket; the middle sample saw an empty queue
    samples = [at(0.0, 0, 500), at(0.3, 37_500, 0), at(0.5, 62_500, 500), at(1.0, 125_000, 500)]
    spans = windows(samples, 0.25)
    assert [w.bytes for w in spans] == [37_500, 87_500]
    assert [w.min_backlog for w in spans] == [0, 0]
    first = spans[0]
    assert first.min_s == pytest.approx(0.299) and first.max_s == pytest.approx(0.301)
    assert first.within_bucket(1e6, 1000) and first.at_rate(1e6, 1000)
    assert not first.within_bucket(0.9e6, 1000)  # 0.9 Mbit/s cannot carry 37.5 kB in 0.3 s
    assert not first.at_rate(1.2e6, 1000)  # nor 1.2 Mbit/s send so little while queued
