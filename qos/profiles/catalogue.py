"""What a profile may name: metrics, statistics and option values (docs/architecture.md §4).

A profile objective names a metric from :data:`METRICS`.  The catalogue entry is the one
place that says everything about a metric: its name, dimension and unit, its definition
and citation, which population of samples it is computed from (probes, or one value per
test of a measurement kind), which statistics apply and which evaluator computes each of
them, and how round-trip data stands in for a one-way metric.  Scoring reads these entries;
it holds no per-metric branches, so adding a metric is one entry here (plus an evaluator
in ``qos_analysis.scoring.evaluators`` when it needs new arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

PROFILE_SCHEMA_VERSION = 1

DIMENSION_UNITS = MappingProxyType({"duration": "s", "rate": "bit/s", "ratio": "ratio"})
# How round-trip data stands in for a one-way metric (docs/methods.md §7.5):
ROUND_TRIP_HALF = "rtt-half"  # one-way ≈ RTT/2 under the profile's one_way_rule
ROUND_TRIP_LOSS = "round-trip-loss"  # a probe lost either way counts as lost
ROUND_TRIP_RULES = (ROUND_TRIP_HALF, ROUND_TRIP_LOSS)
PROBE_SAMPLES = ("delay", "loss")
#: collectors whose timing records are integrity tests (docs/methods.md §13), not transactions
INTEGRITY_COLLECTORS = ("dns_integrity", "http_integrity", "port_reachability", "tls_integrity")


@dataclass(frozen=True, slots=True)
class PerTestSource:
    """Where a per-test metric's value comes from: one value per measurement of ``kind``
    (and ``direction``, and of one of ``collectors`` when given), read from the measurement
    column ``column``; a failed test counts as ``failed_value`` (0 bit/s for a speed test,
    +∞ for a timed transaction, NaN — no value — for an integrity test)."""

    kind: str  # measurement kind: "throughput" | "timing"
    column: str  # measurement column, e.g. "goodput_bps"
    failed_value: float
    direction: str | None = None  # throughput tests: "download" | "upload"
    collectors: tuple[str, ...] = ()  # only these collectors' tests (empty: any)
    exclude_collectors: tuple[str, ...] = ()  # never these collectors' tests


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: what it measures, where its samples come from and how it is scored.

    ``evaluators`` maps each statistic that makes sense for the metric to the name of the
    evaluator computing it (the first statistic is the default when it is the only one).
    Probe metrics (``per_test`` None) score the per-probe ``sample`` — ``"delay"`` (NaN for
    a lost probe) or ``"loss"`` (lost or not); ``round_trip`` says how round-trip data
    stands in for a one-way metric.  ``lost_as_infinite``: a profile may count lost
    probes as +∞ in order statistics (RFC 7679 §3.5).  ``decisive_event``: for a "≤ 0"
    ratio one event already fails (a manipulated integrity test), before ``min_samples``.
    """

    name: str
    dimension: str  # "duration" | "ratio" | "rate"
    comparison: str  # default for the limit: "<=" (smaller is better) or ">="
    evaluators: Mapping[str, str] = field(hash=False)
    one_way: bool  # defined one-way (RTT data then needs a named rule)
    observable: bool = True  # False: the toolkit cannot measure it (verdict not assessed)
    description: str = ""
    citation: str = ""
    per_test: PerTestSource | None = None  # None: computed from probes
    sample: str = "delay"  # probes: "delay" | "loss"
    round_trip: str = ""  # one-way probe metrics: one of ROUND_TRIP_RULES
    lost_as_infinite: bool = False
    # One event (k ≥ 1 of a "≤ 0" ratio) fails the objective before min_samples is reached.
    decisive_event: bool = False

    @property
    def statistics(self) -> tuple[str, ...]:
        """The statistics a profile may ask of this metric."""
        return tuple(self.evaluators)

    @property
    def source(self) -> str:
        """``"probes"`` or the measurement kind of a per-test metric."""
        return "probes" if self.per_test is None else self.per_test.kind

    @property
    def unit(self) -> str:
        """The base unit of the metric's values: s, bit/s or ratio."""
        return DIMENSION_UNITS[self.dimension]

    def evaluator(self, statistic: str) -> str:
        """Name of the evaluator computing ``statistic`` of this metric."""
        return self.evaluators[statistic]


def _stats(*pairs: tuple[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(pairs))


_ORDER = "order_statistic"
_DELAY_STATS = _stats(
    ("mean", "mean"),
    ("median", _ORDER),
    ("percentile", _ORDER),
    ("max", "maximum"),
    ("share", "threshold_count"),
)
_SPEED_STATS = _stats(
    ("mean", "mean"),
    ("median", _ORDER),
    ("percentile", _ORDER),
    ("share", "threshold_count"),
    ("days_meeting", "threshold_count"),
    ("days_not_meeting", "threshold_count"),
)

METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec(
            "one_way_delay",
            "duration",
            "<=",
            _DELAY_STATS,
            True,
            description="one-way delay (Y.1540 IPTD, RFC 7679); RTT data needs a rule",
            citation="ITU-T Y.1540 IPTD; RFC 7679",
            round_trip=ROUND_TRIP_HALF,
            lost_as_infinite=True,
        ),
        MetricSpec(
            "rtt",
            "duration",
            "<=",
            _DELAY_STATS,
            False,
            description="round-trip delay (RFC 2681)",
            citation="RFC 2681",
            lost_as_infinite=True,
        ),
        MetricSpec(
            "ipdv",
            "duration",
            "<=",
            _stats(("pseudo_range", "order_statistic_minus_minimum")),
            True,
            description="Y.1541 IPDV pseudo-range: (1−10⁻³) quantile − minimum delay",
            citation="ITU-T Y.1541; RFC 5481 §6.5; RFC 6703 §3.1",
            round_trip=ROUND_TRIP_HALF,
        ),
        MetricSpec(
            "pdv",
            "duration",
            "<=",
            _stats(("percentile", "order_statistic_minus_minimum")),
            True,
            description="RFC 5481 PDV D(i) − D(min), at a percentile",
            citation="RFC 5481",
            round_trip=ROUND_TRIP_HALF,
        ),
        MetricSpec(
            "jitter_rfc3550",
            "duration",
            "<=",
            _stats(("mean", "jitter_rfc3550"), ("max", "jitter_rfc3550")),
            True,
            description="RFC 3550 §6.4.1 interarrival jitter per measurement",
            citation="RFC 3550 §6.4.1",
            round_trip=ROUND_TRIP_HALF,
        ),
        MetricSpec(
            "loss_ratio",
            "ratio",
            "<=",
            _stats(("ratio", "loss_ratio")),
            True,
            description="packet loss ratio (Y.1540 IPLR, RFC 7680 / RFC 6673)",
            citation="ITU-T Y.1540 IPLR; RFC 7680; RFC 6673",
            sample="loss",
            round_trip=ROUND_TRIP_LOSS,
        ),
        MetricSpec(
            "error_ratio",
            "ratio",
            "<=",
            _stats(("ratio", "loss_ratio")),
            True,
            observable=False,
            description="Y.1540 IPER: errored packets are not recorded by the toolkit",
            citation="ITU-T Y.1540 IPER",
            sample="loss",
            round_trip=ROUND_TRIP_LOSS,
        ),
        MetricSpec(
            "download_speed",
            "rate",
            ">=",
            _SPEED_STATS,
            False,
            description="transport-payload goodput per download test (BEREC)",
            citation="BEREC BoR (17) 178",
            per_test=PerTestSource("throughput", "goodput_bps", 0.0, "download"),
        ),
        MetricSpec(
            "upload_speed",
            "rate",
            ">=",
            _SPEED_STATS,
            False,
            description="transport-payload goodput per upload test (BEREC)",
            citation="BEREC BoR (17) 178",
            per_test=PerTestSource("throughput", "goodput_bps", 0.0, "upload"),
        ),
        MetricSpec(
            "transaction_time",
            "duration",
            "<=",
            _DELAY_STATS,
            False,
            description="total time of a timed transaction (web page, DNS lookup)",
            citation="ITU-T G.1030",
            per_test=PerTestSource(
                "timing", "transaction_time_s", math.inf, exclude_collectors=INTEGRITY_COLLECTORS
            ),
        ),
    )
}


def _integrity(name: str, collector: str, what: str) -> MetricSpec:
    """Share of an integrity collector's completed tests that found a manipulation."""
    return MetricSpec(
        name,
        "ratio",
        "<=",
        _stats(("ratio", "event_ratio")),
        False,
        description=f"share of {collector} tests that found {what} (docs/methods.md §13)",
        citation="EU Regulation 2015/2120 Art. 3(3)",
        per_test=PerTestSource("timing", "manipulated", math.nan, collectors=(collector,)),
        decisive_event=True,
    )


for _spec in (
    _integrity("dns_manipulation", "dns_integrity", "a changed DNS answer"),
    _integrity("http_manipulation", "http_integrity", "an altered HTTP request or response"),
    _integrity("port_manipulation", "port_reachability", "a blocked, reset or redirected port"),
    _integrity("tls_manipulation", "tls_integrity", "TLS interception, downgrade or SNI loss"),
):
    METRICS[_spec.name] = _spec


def register_metric(spec: MetricSpec) -> None:
    """Add ``spec`` to :data:`METRICS` (a metric a plug-in or a test defines)."""
    if spec.name in METRICS:
        raise ValueError(f"metric '{spec.name}' is already in the catalogue")
    METRICS[spec.name] = spec


def unregister_metric(name: str) -> None:
    """Remove a metric added with :func:`register_metric`."""
    del METRICS[name]


@contextmanager
def registered_metric(spec: MetricSpec) -> Iterator[MetricSpec]:
    """``with registered_metric(spec):`` — the metric exists inside the block only."""
    register_metric(spec)
    try:
        yield spec
    finally:
        unregister_metric(spec.name)


STATISTICS = (
    "mean",
    "median",
    "percentile",
    "max",
    "share",
    "pseudo_range",
    "ratio",
    "days_meeting",
    "days_not_meeting",
)
ONE_WAY_RULES = ("rtt-half", "refuse")
DECISIONS = ("confidence", "literal")
FAILED_TESTS = ("count", "exclude")
COMPARISONS = ("<=", ">=")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DIMENSIONS = ("duration", "rate", "ratio")
