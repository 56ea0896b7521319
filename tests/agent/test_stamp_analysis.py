"""Pure STAMP analysis on synthetic timestamps (RFC 8762 §4, RFC 5357 §4.2.1): exact arithmetic.

Every expected value below is computed by hand from the constructed T1..T4, so these tests
pin the formulas: RTT = (T4 − T1) − (T3 − T2), forward = T2 − T1, backward = T4 − T3, and
loss direction from the stateful reflector counter.
"""

from __future__ import annotations

import pytest

from qos.records import LossDirection
from qos_agent.stamp.analysis import Anchor, Reply, SentProbe, analyse, reflector_state
from qos_agent.stamp.codec import ErrorEstimate, ReflectorPacket, ntp_from_unix_ns

MS = 1_000_000
WALL0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z in Unix ns
SYNCED = ErrorEstimate(synchronized=True, scale=0, multiplier=1).encode()
UNSYNCED = ErrorEstimate(synchronized=False, scale=20, multiplier=10).encode()


def probe(seq: int, *, interval_ms: int = 10) -> SentProbe:
    wall = WALL0 + seq * interval_ms * MS
    return SentProbe(
        seq=seq,
        t1_ntp=ntp_from_unix_ns(wall),
        t1_wall_ns=wall,
        t1_mono_ns=5_000 * MS + seq * interval_ms * MS,
        offset_s=seq * interval_ms / 1000,
        size=44,
    )


def reply(
    p: SentProbe,
    *,
    refl_seq: int,
    forward_ms: float,
    residence_ms: float,
    backward_ms: float,
    offset_ms: float = 0.0,
    err: int = SYNCED,
) -> Reply:
    """Reflector clock = sender clock + ``offset_ms``; times are exact in ns."""
    t2 = p.t1_wall_ns + int(forward_ms * MS) + int(offset_ms * MS)
    t3 = t2 + int(residence_ms * MS)
    t4_mono = p.t1_mono_ns + int((forward_ms + residence_ms + backward_ms) * MS)
    packet = ReflectorPacket(
        seq=refl_seq,
        timestamp=ntp_from_unix_ns(t3),
        error_estimate=err,
        ssid=1,
        receive_timestamp=ntp_from_unix_ns(t2),
        sender_seq=p.seq,
        sender_timestamp=p.t1_ntp,
        sender_error_estimate=SYNCED,
        sender_ttl=250,
    )
    return Reply(packet=packet, t4_mono_ns=t4_mono, ttl=60)


def test_rtt_removes_residence_and_one_way_delays_when_synchronised() -> None:
    sent = [probe(0), probe(1)]
    replies = {
        0: [reply(sent[0], refl_seq=0, forward_ms=7, residence_ms=3, backward_ms=12)],
        1: [reply(sent[1], refl_seq=1, forward_ms=9, residence_ms=1, backward_ms=11)],
    }
    probes, details = analyse(sent, replies, sender_synchronized=True)
    a, b = probes
    assert a.rtt_s == pytest.approx(0.019, abs=1e-9) and b.rtt_s == pytest.approx(0.020, abs=1e-9)
    assert a.reflector_residence_s == pytest.approx(0.003, abs=1e-9)
    assert a.forward_delay_s == pytest.approx(0.007, abs=1e-9)
    assert a.backward_delay_s == pytest.approx(0.012, abs=1e-9)
    assert a.one_way_valid is True and a.reflector_ttl == 250 and a.ttl == 60
    assert details["one_way_valid"] is True
    assert details["forward_delay_median_s"] == pytest.approx(0.008, abs=1e-9)
    assert details["backward_delay_median_s"] == pytest.approx(0.0115, abs=1e-9)
    assert details["forward_ipdv_p999_s"] == pytest.approx(0.002, abs=1e-9)


@pytest.mark.parametrize(
    ("sender_sync", "reflector_err"),
    [
        (False, SYNCED),
        (True, UNSYNCED),
        (True, 0x8000),  # multiplier 0: corrupt estimate
    ],
)
def test_one_way_flagged_unless_both_clocks_synchronised(
    sender_sync: bool, reflector_err: int
) -> None:
    sent = [probe(0)]
    # the reflector's clock is 2.5 s ahead: one-way values are meaningless, RTT is not
    replies = {
        0: [
            reply(
                sent[0],
                refl_seq=0,
                forward_ms=7,
                residence_ms=3,
                backward_ms=12,
                offset_ms=2500,
                err=reflector_err,
            )
        ]
    }
    probes, details = analyse(sent, replies, sender_synchronized=sender_sync)
    assert probes[0].rtt_s == pytest.approx(0.019, abs=1e-9)
    assert probes[0].one_way_valid is False
    assert probes[0].forward_delay_s == pytest.approx(2.507, abs=1e-9)  # kept, but flagged
    assert details["one_way_valid"] is False
    assert details["forward_delay_median_s"] is None and details["backward_delay_median_s"] is None


def test_implausible_residence_falls_back_to_local_rtt() -> None:
    sent = [probe(0), probe(1)]
    bad_negative = reply(sent[0], refl_seq=0, forward_ms=5, residence_ms=-2, backward_ms=5)
    bad_too_long = reply(sent[1], refl_seq=1, forward_ms=1, residence_ms=50, backward_ms=1)
    bad_too_long = Reply(bad_too_long.packet, sent[1].t1_mono_ns + 10 * MS, None)
    probes, details = analyse(
        sent, {0: [bad_negative], 1: [bad_too_long]}, sender_synchronized=False
    )
    assert probes[0].rtt_s == pytest.approx(0.008, abs=1e-9)  # T4 − T1 on our clock only
    assert probes[1].rtt_s == pytest.approx(0.010, abs=1e-9)
    assert probes[0].reflector_residence_s is None and details["residence_invalid"] == 2


def _stream(
    n: int, lost_forward: set[int], lost_backward: set[int]
) -> tuple[list[SentProbe], dict[int, list[Reply]]]:
    sent = [probe(i) for i in range(n)]
    replies: dict[int, list[Reply]] = {}
    counter = 0
    for p in sent:
        if p.seq in lost_forward:
            continue
        r = reply(p, refl_seq=counter, forward_ms=5, residence_ms=0.1, backward_ms=5)
        counter += 1
        if p.seq not in lost_backward:
            replies[p.seq] = [r]
    return sent, replies


def test_loss_direction_counts_and_ratios() -> None:
    sent, replies = _stream(100, lost_forward={2, 3, 50}, lost_backward={10, 70, 71})
    probes, d = analyse(sent, replies, sender_synchronized=False)
    lost = {p.seq: p.lost_direction for p in probes if p.lost}
    assert lost == {
        2: LossDirection.FORWARD,
        3: LossDirection.FORWARD,
        50: LossDirection.FORWARD,
        10: LossDirection.BACKWARD,
        70: LossDirection.BACKWARD,
        71: LossDirection.BACKWARD,
    }
    assert (d["forward_lost"], d["backward_lost"], d["lost_unknown_direction"]) == (3, 3, 0)
    assert d["forward_loss_ratio"] == pytest.approx(3 / 100)
    assert d["backward_loss_ratio"] == pytest.approx(3 / 97)  # of those that got there
    assert (d["forward_probes"], d["backward_probes"]) == (100, 97)


def test_windows_use_anchors_from_neighbouring_windows() -> None:
    sent, replies = _stream(30, lost_forward={10}, lost_backward={19, 20})
    window = [p for p in sent if 10 <= p.seq < 20]
    in_window = {s: r for s, r in replies.items() if 10 <= s < 20}
    left = Anchor(9, replies[9][0].packet.seq)
    right = Anchor(21, replies[21][0].packet.seq)
    probes, d = analyse(window, in_window, sender_synchronized=False, left=left, right=right)
    lost = {p.seq: p.lost_direction for p in probes if p.lost}
    assert lost == {10: LossDirection.FORWARD, 19: LossDirection.BACKWARD}
    # without the right anchor the tail is unknowable
    probes, d = analyse(window, in_window, sender_synchronized=False, left=left)
    assert {p.seq: p.lost_direction for p in probes if p.lost}[19] is LossDirection.UNKNOWN
    assert d["lost_unknown_direction"] == 1 and d["forward_lost"] == 1


def test_mixed_gap_gives_exact_counts_but_unknown_packets() -> None:
    sent, replies = _stream(20, lost_forward={7}, lost_backward={8})
    probes, d = analyse(sent, replies, sender_synchronized=False)
    assert {p.seq: p.lost_direction for p in probes if p.lost} == {
        7: LossDirection.UNKNOWN,
        8: LossDirection.UNKNOWN,
    }
    assert (d["forward_lost"], d["backward_lost"], d["lost_unknown_direction"]) == (1, 1, 0)


def test_forward_reordering_seen_in_reflector_counter() -> None:
    sent = [probe(i) for i in range(4)]
    # the reflector received 2 before 1: counters 0, 2, 1, 3
    replies = {
        s: [reply(sent[s], refl_seq=c, forward_ms=5, residence_ms=0, backward_ms=5)]
        for s, c in zip(range(4), [0, 2, 1, 3], strict=True)
    }
    _, d = analyse(sent, replies, sender_synchronized=False)
    assert d["forward_reordered"] == 1 and d["reordered"] == 0


def test_reflector_state_detection() -> None:
    _, replies = _stream(10, lost_forward=set(), lost_backward={4})
    assert reflector_state(replies, "auto") is None  # counters equal: proves nothing
    _, replies = _stream(10, lost_forward={4}, lost_backward=set())
    assert reflector_state(replies, "auto") is True
    assert reflector_state(replies, "stateless") is False
    assert reflector_state({}, "stateful") is True
