"""Two-way metrics from reflected STAMP packets (RFC 8762 §4, RFC 5357 §4.2.1).

Pure functions: sent probes + accepted replies → :class:`~qos.records.ProbeSample` list and
the STAMP summary.  RTT = (T4 − T1) − (T3 − T2) with T4 − T1 on the sender's monotonic
clock and T3 − T2 on the reflector's; one-way delays T2 − T1 and T4 − T3 are flagged valid
only when both Error Estimates carry S = 1 (and a non-zero multiplier); forward/backward
loss comes from the stateful reflector's counter; reordering is RFC 4737 Type-P-Reordered;
one-way IPDV (RFC 5481) and RFC 3550 jitter need no clock synchronisation because the
clock offset cancels in differences.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qos.metrics import ipdv_p999_s, jitter_rfc3550_s, median
from qos.records import LossDirection, ProbeSample
from qos_agent.stamp.codec import ErrorEstimate, ReflectorPacket, ntp_diff_s, ntp_from_unix_ns


@dataclass(frozen=True, slots=True)
class SentProbe:
    """What we know about one sent test packet."""

    seq: int
    t1_ntp: int  # the timestamp on the wire (read just before encoding)
    t1_wall_ns: int  # wall-clock equivalent of t1_mono_ns (for T4 on the wall clock)
    t1_mono_ns: int  # monotonic instant just before the send call
    offset_s: float  # send instant relative to the session start (monotonic)
    size: int


@dataclass(frozen=True, slots=True)
class Reply:
    """One accepted reflected packet and its arrival (monotonic ns) and received TTL."""

    packet: ReflectorPacket
    t4_mono_ns: int
    ttl: int | None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A received reply used as a reference point for loss attribution across windows."""

    sender_seq: int
    reflector_seq: int


#: anchor for a session whose sender and reflector counters both started at 0
SESSION_START = Anchor(-1, -1)


@dataclass
class _LossTally:
    forward: int = 0
    backward: int = 0
    unknown: int = 0
    directions: dict[int, LossDirection] = field(default_factory=dict)


def analyse(
    sent: Sequence[SentProbe],
    replies: Mapping[int, Sequence[Reply]],
    *,
    sender_synchronized: bool,
    left: Anchor | None = SESSION_START,
    right: Anchor | None = None,
    stateful: bool | None = True,
) -> tuple[list[ProbeSample], dict[str, Any]]:
    """Probe samples and the STAMP summary for the probes ``sent``.

    ``left``/``right`` are the nearest received replies outside ``sent`` (continuous mode
    windows); the default left anchor (−1, −1) states that both counters started at 0 with
    this session.  Loss direction comes from the stateful reflector's counter: between two
    received replies with sender seqs a < b and reflector seqs ra < rb, the b − a − 1 lost
    probes include rb − ra − 1 that reached the reflector (lost backward) and the rest lost
    forward.  Each probe gets a direction when its gap is pure; a mixed gap still gives
    exact counts; a gap without both anchors (tail of the stream) or disturbed by
    reordering/duplication is ``unknown``.

    ``stateful`` says whether the reflector keeps a per-session counter: ``False`` (a
    stateless TWAMP-Light reflector copies our sequence number, RFC 5357 App. I) or
    ``None`` (not known) make every loss's direction ``unknown`` — a copied counter would
    otherwise look like "everything lost on the way back".  See :func:`reflector_state`.
    """
    by_seq = sorted(sent, key=lambda p: p.seq)
    first: dict[int, Reply] = {p.seq: replies[p.seq][0] for p in by_seq if replies.get(p.seq)}
    tally = _attribute_losses([p.seq for p in by_seq], first, left, right, stateful)
    probes: list[ProbeSample] = []
    residence_bad = 0
    refl_sync: list[bool] = []
    for p in by_seq:
        reply = first.get(p.seq)
        if reply is None:
            probes.append(
                ProbeSample(
                    seq=p.seq,
                    send_offset_s=p.offset_s,
                    rtt_s=None,
                    size_bytes=p.size,
                    lost_direction=tally.directions[p.seq],
                )
            )
            continue
        pkt = reply.packet
        local_rtt = (reply.t4_mono_ns - p.t1_mono_ns) / 1e9
        residence = ntp_diff_s(pkt.timestamp, pkt.receive_timestamp)
        if not 0.0 <= residence <= local_rtt:
            residence_bad += 1  # reflector clock stepped or lies: keep the local RTT
            residence_used: float | None = None
            rtt = local_rtt
        else:
            residence_used = residence
            rtt = local_rtt - residence
        t4_ntp = ntp_from_unix_ns(p.t1_wall_ns + (reply.t4_mono_ns - p.t1_mono_ns))
        reflector_est = ErrorEstimate.decode(pkt.error_estimate)
        refl_sync.append(reflector_est.synchronized and reflector_est.valid)
        one_way_valid = sender_synchronized and reflector_est.synchronized and reflector_est.valid
        probes.append(
            ProbeSample(
                seq=p.seq,
                send_offset_s=p.offset_s,
                rtt_s=rtt,
                ttl=reply.ttl,
                duplicates=len(replies[p.seq]) - 1,
                size_bytes=p.size,
                forward_delay_s=ntp_diff_s(pkt.receive_timestamp, p.t1_ntp),
                backward_delay_s=ntp_diff_s(t4_ntp, pkt.timestamp),
                reflector_residence_s=residence_used,
                one_way_valid=one_way_valid,
                reflector_ttl=pkt.sender_ttl,
            )
        )
    details = _summary(by_seq, first, probes, tally, stateful)
    details.update(
        {
            "residence_invalid": residence_bad,
            "sender_clock_synchronized": sender_synchronized,
            "reflector_clock_synchronized": (all(refl_sync) if refl_sync else None),
        }
    )
    return probes, details


def reflector_state(replies: Mapping[int, Sequence[Reply]], declared: str) -> bool | None:
    """Is the reflector stateful?  ``declared`` is ``stateful``, ``stateless`` or ``auto``.

    Under ``auto`` a reply whose reflector sequence differs from the sender's proves a
    per-session counter (RFC 8762 §4.3.1 stateful mode).  Equal numbers prove nothing: a
    stateless reflector copies them, and a stateful one matches them until the first
    forward loss — so the answer is ``None`` (unknown) and loss directions stay unknown.
    """
    if declared == "stateful":
        return True
    if declared == "stateless":
        return False
    for seq, received in replies.items():
        if any(r.packet.seq != seq for r in received):
            return True
    return None


def _attribute_losses(
    seqs: Sequence[int],
    first: Mapping[int, Reply],
    left: Anchor | None,
    right: Anchor | None,
    stateful: bool | None,
) -> _LossTally:
    tally = _LossTally()
    lost = [s for s in seqs if s not in first]
    if not lost:
        return tally
    if stateful is not True:
        _mark(tally, lost, LossDirection.UNKNOWN)
        return tally
    points: list[Anchor | None] = [left]
    points += [Anchor(s, first[s].packet.seq) for s in seqs if s in first]
    points.append(right)
    in_window = set(seqs)
    for before, after in itertools.pairwise(points):
        lo = before.sender_seq if before is not None else (seqs[0] - 1)
        hi = after.sender_seq if after is not None else (seqs[-1] + 1)
        gap = [s for s in range(lo + 1, hi) if s in in_window and s not in first]
        if not gap:
            continue
        if before is None or after is None:
            _mark(tally, gap, LossDirection.UNKNOWN)
            continue
        missing = hi - lo - 1
        backward = after.reflector_seq - before.reflector_seq - 1
        if not 0 <= backward <= missing:
            _mark(tally, gap, LossDirection.UNKNOWN)  # reordered or duplicated at reflector
        elif backward == 0:
            _mark(tally, gap, LossDirection.FORWARD)
        elif backward == missing:
            _mark(tally, gap, LossDirection.BACKWARD)
        elif len(gap) == missing:  # mixed, but the whole gap is ours: exact counts
            for s in gap:
                tally.directions[s] = LossDirection.UNKNOWN
            tally.backward += backward
            tally.forward += missing - backward
        else:
            _mark(tally, gap, LossDirection.UNKNOWN)
    return tally


def _mark(tally: _LossTally, seqs: Iterable[int], direction: LossDirection) -> None:
    for s in seqs:
        tally.directions[s] = direction
        if direction is LossDirection.FORWARD:
            tally.forward += 1
        elif direction is LossDirection.BACKWARD:
            tally.backward += 1
        else:
            tally.unknown += 1


def _reordered(seqs_in_order: Iterable[int]) -> int:
    """RFC 4737 §3 Type-P-Reordered count: arrivals below the highest seq seen so far."""
    count = 0
    highest = -1
    for s in seqs_in_order:
        if s < highest:
            count += 1
        else:
            highest = s
    return count


def _summary(
    by_seq: Sequence[SentProbe],
    first: Mapping[int, Reply],
    probes: Sequence[ProbeSample],
    tally: _LossTally,
    stateful: bool | None,
) -> dict[str, Any]:
    sent = len(by_seq)
    known = sent - tally.unknown
    reached = known - tally.forward
    received = [p for p in probes if p.rtt_s is not None]
    by_arrival = sorted(received, key=lambda p: (first[p.seq].t4_mono_ns, p.seq))
    by_reflector = sorted(received, key=lambda p: (first[p.seq].packet.seq, p.seq))
    forward = [p.forward_delay_s for p in probes]
    backward = [p.backward_delay_s for p in probes]
    one_way_valid = bool(received) and all(p.one_way_valid for p in received)
    residences = [p.reflector_residence_s for p in received if p.reflector_residence_s is not None]
    # without a per-session reflector counter, directions are only known when nothing was lost
    directional = stateful is True or len(received) == sent
    return {
        "reflector_mode": {True: "stateful", False: "stateless", None: "unknown"}[stateful],
        "forward_lost": tally.forward if directional else None,
        "backward_lost": tally.backward if directional else None,
        "lost_unknown_direction": tally.unknown,
        # denominators, for confidence intervals: probes whose forward fate is known, and
        # those of them that reached the reflector (backward fate known)
        "forward_probes": known if directional else None,
        "backward_probes": reached if directional else None,
        "forward_loss_ratio": tally.forward / known if directional and known > 0 else None,
        "backward_loss_ratio": tally.backward / reached if directional and reached > 0 else None,
        "reordered": _reordered(p.seq for p in by_arrival),
        "forward_reordered": _reordered(p.seq for p in by_reflector) if stateful else None,
        "duplicates": sum(p.duplicates for p in probes),
        "one_way_valid": one_way_valid,
        # offsets between the two clocks cancel in differences: valid without sync
        "forward_ipdv_p999_s": ipdv_p999_s(forward),
        "backward_ipdv_p999_s": ipdv_p999_s(backward),
        "forward_jitter_rfc3550_s": jitter_rfc3550_s([p.forward_delay_s for p in by_reflector]),
        "backward_jitter_rfc3550_s": jitter_rfc3550_s([p.backward_delay_s for p in by_arrival]),
        "forward_delay_median_s": median(forward, undefined="exclude") if one_way_valid else None,
        "backward_delay_median_s": (
            median(backward, undefined="exclude") if one_way_valid else None
        ),
        "reflector_residence_median_s": median(residences, undefined="exclude"),
    }
