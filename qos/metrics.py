"""The metric catalogue: one metric, one definition, one citation (docs/architecture.md §3).

Pure standard-library functions over plain sequences, shared by the agent (summaries it
prints) and by the analysis package (which re-implements the same definitions vectorised
and is tested against these).  Every function cites the primary source and
its section of ``docs/methods.md``.

Conventions:

* Delays are in seconds; a lost packet's delay is ``None`` ("undefined", RFC 7679 §3.4).
* Percentiles follow RFC 2330 §11.3: the smallest x whose empirical CDF F(x) ≥ p, with the
  rank computed in exact rational arithmetic (docs/methods.md §1.3 float-rank pitfall).
* Nothing here is called just "jitter": each estimator is named for its definition.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Literal

from qos.records import ProbeSample, RttResult

Undefined = Literal["infinite", "exclude"]


def _as_fraction(p: float | int | str | Fraction) -> Fraction:
    """Exact rational form of a probability; floats are read from their shortest repr.

    ``Fraction(0.999)`` would be the binary approximation 0.99899999999999999911…;
    ``Fraction("0.999")`` is exactly 999/1000, which is what the caller meant.
    """
    if isinstance(p, Fraction):
        q = p
    elif isinstance(p, float):
        q = Fraction(repr(p))
    else:
        q = Fraction(p)
    if not 0 <= q <= 1:
        raise ValueError(f"probability must lie in [0, 1], got {p}")
    return q


def percentile_rank(n: int, p: float | str | Fraction) -> int:
    """1-based rank of the RFC 2330 p-quantile in a sorted sample of size ``n``.

    docs/methods.md §6.4; RFC 2330 §11.3: smallest x with F(x) ≥ p ⇒ rank = ⌈p·n⌉.
    Returns 0 for p = 0 (the RFC's −∞).
    """
    if n <= 0:
        raise ValueError("percentile of an empty sample is undefined")
    q = _as_fraction(p)
    return math.ceil(q * n)


def percentile(
    values: Iterable[float | None],
    p: float | str | Fraction,
    *,
    undefined: Undefined = "infinite",
) -> float | None:
    """RFC 2330 §11.3 percentile (docs/methods.md §6.4), numpy ``inverted_cdf`` equivalent.

    ``undefined="infinite"`` treats ``None`` (lost) as +∞ as RFC 7679 §4 statistics do, so a
    percentile may be ``inf`` when losses exceed 1 − p; ``"exclude"`` uses only defined
    values (the conditional distribution).  p = 0 gives −∞ per RFC 2330.  Returns ``None``
    for an empty sample.
    """
    data = _prepared(values, undefined)
    if not data:
        return None
    rank = percentile_rank(len(data), p)
    if rank == 0:
        return -math.inf
    return data[rank - 1]


def median(values: Iterable[float | None], *, undefined: Undefined = "infinite") -> float | None:
    """RFC 7679 §5.2 median: the mean of the two central values when N is even."""
    data = _prepared(values, undefined)
    n = len(data)
    if n == 0:
        return None
    mid = n // 2
    if n % 2:
        return data[mid]
    low, high = data[mid - 1], data[mid]
    if math.isinf(high) and math.isinf(low):
        return high
    return (low + high) / 2


def minimum(values: Iterable[float | None]) -> float | None:
    """RFC 7679 §5.3 minimum of the defined values (docs/methods.md §6.4); None if none."""
    defined = [v for v in values if v is not None]
    return min(defined) if defined else None


def inverse_percentile(values: Iterable[float | None], threshold: float) -> float | None:
    """RFC 7679 §5.4 (deprecated there, kept for vectors): share of values ≤ threshold."""
    data = _prepared(values, "infinite")
    if not data:
        return None
    return sum(1 for v in data if v <= threshold) / len(data)


def _prepared(values: Iterable[float | None], undefined: Undefined) -> list[float]:
    data: list[float] = []
    for v in values:
        if v is None:
            if undefined == "infinite":
                data.append(math.inf)
        elif isinstance(v, float) and math.isnan(v):
            raise ValueError("NaN is not a delay; use None for a lost packet")
        else:
            data.append(float(v))
    data.sort()
    return data


def loss_ratio(delays: Sequence[float | None]) -> float | None:
    """Loss ratio = lost / sent (docs/methods.md §6.5; RFC 7680 §4.1, RFC 6673 §3).

    Undefined (``None``) for an empty sample.  Duplicates are counted once by the caller
    (a :class:`ProbeSample` records them separately and is never emitted twice).
    """
    if not delays:
        return None
    return sum(1 for d in delays if d is None) / len(delays)


def rtt_min_s(rtts: Sequence[float | None]) -> float | None:
    """Minimum round-trip time of received probes (RFC 2681; docs/methods.md §6.6)."""
    return minimum(rtts)


def rtt_mean_s(rtts: Sequence[float | None]) -> float | None:
    """Arithmetic mean over received probes (ITU-T Y.1540 mean IPTD; docs/methods.md §1.1)."""
    defined = [r for r in rtts if r is not None]
    if not defined:
        return None
    # fsum(…)/n can overshoot by one ulp (three samples of 0.1 s give 0.10000000000000002);
    # the true mean lies in [min, max], so clamping only moves the result towards it.
    return min(max(math.fsum(defined) / len(defined), min(defined)), max(defined))


def rtt_median_s(rtts: Sequence[float | None]) -> float | None:
    """Median RTT over received probes (RFC 7679 §5.2 rule for even N; docs/methods.md §6.4)."""
    return median(rtts, undefined="exclude")


def rtt_p95_s(rtts: Sequence[float | None]) -> float | None:
    """95th percentile RTT over received probes, RFC 2330 exact rank (docs/methods.md §6.4)."""
    return percentile(rtts, Fraction(95, 100), undefined="exclude")


def ipdv_p999_s(delays: Sequence[float | None]) -> float | None:
    """Y.1541 IPDV pseudo-range: (1 − 10⁻³) quantile minus minimum delay.

    docs/methods.md §1.1, §1.3 (vector V17); Y.1540 clause 6.2.4, RFC 5481 §6.5, RFC 6703 §3.1.
    Computed over delivered packets of the population.  Below 1000 packets the quantile is
    the sample maximum; whether that supports a claim is the scorer's business (§9.3).
    """
    defined = [d for d in delays if d is not None]
    if not defined:
        return None
    high = percentile(defined, Fraction(999, 1000), undefined="exclude")
    assert high is not None
    return high - min(defined)


def jitter_rfc3550_s(transit_s: Sequence[float | None]) -> float | None:
    """RFC 3550 interarrival jitter estimate J after the last packet (docs/methods.md §6.1).

    RFC 3550 §6.4.1 and §A.8: J += (|D(i−1, i)| − J)/16 over received packets **in arrival
    order**; D is the difference of consecutive transit times (here: one-way or round-trip
    delays, which differ from transit only by a constant clock offset).  The caller passes
    delays already in arrival order; ``None`` (lost) entries are skipped.  Returns ``None``
    with fewer than two received packets.
    """
    jitter = 0.0
    previous: float | None = None
    pairs = 0
    for transit in transit_s:
        if transit is None:
            continue
        if previous is not None:
            jitter += (abs(transit - previous) - jitter) / 16.0
            pairs += 1
        previous = transit
    return jitter if pairs else None


def jitter_mean_abs_diff_s(delays: Sequence[float | None]) -> float | None:
    """Mean |IPDV| of consecutive packet pairs (RFC 3393 §4.5 "jitter"; docs/methods.md §6.2).

    Pairs with a lost member are discarded (RFC 3393 §4.1 conditional statistics).  This is
    also what icmplib calls ``jitter`` — but computed here only over truly consecutive
    sequence numbers.
    """
    diffs = [abs(b - a) for a, b in itertools.pairwise(delays) if a is not None and b is not None]
    return math.fsum(diffs) / len(diffs) if diffs else None


def ipdv_series_s(delays: Sequence[float | None]) -> list[float | None]:
    """IPDV(i) = D(i) − D(i−1) (RFC 5481 §4.1, RFC 3393; docs/methods.md §6.3 vector V8)."""
    out: list[float | None] = [None]
    for a, b in itertools.pairwise(delays):
        out.append(None if a is None or b is None else b - a)
    return out


def pdv_series_s(delays: Sequence[float | None]) -> list[float | None]:
    """PDV(i) = D(i) − D(min) (RFC 5481 §4.2; docs/methods.md §6.3 vector V8)."""
    d_min = minimum(delays)
    return [None if d is None or d_min is None else d - d_min for d in delays]


def goodput_bps(payload_bytes: int | float, seconds: float) -> float | None:
    """Transport-payload rate (BEREC BoR (17) 178 / docs/methods.md §8.1): bytes·8 / seconds."""
    if seconds <= 0:
        return None
    return payload_bytes * 8.0 / seconds


def arrival_ordered_rtts(probes: Sequence[ProbeSample]) -> list[float]:
    """RTTs of received probes sorted by reply arrival (send offset + RTT), for RFC 3550."""
    received = [p for p in probes if p.rtt_s is not None]
    received.sort(key=lambda p: (p.send_offset_s + (p.rtt_s or 0.0), p.seq))
    return [p.rtt_s for p in received if p.rtt_s is not None]


def summarize_rtt(result: RttResult) -> dict[str, float | int | None]:
    """The catalogue applied to one probe stream (what ``qos-agent once`` prints)."""
    by_seq = sorted(result.probes, key=lambda p: p.seq)
    rtts = [p.rtt_s for p in by_seq]
    return {
        "sent": len(rtts),
        "received": sum(1 for r in rtts if r is not None),
        "duplicates": sum(p.duplicates for p in by_seq),
        "loss_ratio": loss_ratio(rtts),
        "rtt_min_s": rtt_min_s(rtts),
        "rtt_mean_s": rtt_mean_s(rtts),
        "rtt_median_s": rtt_median_s(rtts),
        "rtt_p95_s": rtt_p95_s(rtts),
        "ipdv_p999_s": ipdv_p999_s(rtts),
        "jitter_rfc3550_s": jitter_rfc3550_s(arrival_ordered_rtts(by_seq)),
        "jitter_mean_abs_diff_s": jitter_mean_abs_diff_s(rtts),
    }
