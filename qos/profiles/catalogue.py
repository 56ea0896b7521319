"""What a profile may name: metrics, statistics and option values (docs/architecture.md §4).

A profile objective names a metric from :data:`METRICS`; the metric fixes its dimension,
its data source, the default comparison and which statistics make sense for it.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILE_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a profile metric measures, its dimension and which statistics make sense."""

    name: str
    dimension: str  # "duration" | "ratio" | "rate"
    source: str  # "probes" | "throughput" | "timing"
    comparison: str  # default for the limit: "<=" (smaller is better) or ">="
    statistics: tuple[str, ...]
    one_way: bool  # defined one-way (RTT data then needs a named rule)
    observable: bool = True  # False: the toolkit cannot measure it (verdict inconclusive)
    description: str = ""


_DELAY_STATS = ("mean", "median", "percentile", "max", "share")
_SPEED_STATS = ("mean", "median", "percentile", "share", "days_meeting", "days_not_meeting")

METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec(
            "one_way_delay",
            "duration",
            "probes",
            "<=",
            _DELAY_STATS,
            True,
            description="one-way delay (Y.1540 IPTD, RFC 7679); RTT data needs a rule",
        ),
        MetricSpec(
            "rtt",
            "duration",
            "probes",
            "<=",
            _DELAY_STATS,
            False,
            description="round-trip delay (RFC 2681)",
        ),
        MetricSpec(
            "ipdv",
            "duration",
            "probes",
            "<=",
            ("pseudo_range",),
            True,
            description="Y.1541 IPDV pseudo-range: (1−10⁻³) quantile − minimum delay",
        ),
        MetricSpec(
            "pdv",
            "duration",
            "probes",
            "<=",
            ("percentile",),
            True,
            description="RFC 5481 PDV D(i) − D(min), at a percentile",
        ),
        MetricSpec(
            "jitter_rfc3550",
            "duration",
            "probes",
            "<=",
            ("mean", "max"),
            True,
            description="RFC 3550 §6.4.1 interarrival jitter per measurement",
        ),
        MetricSpec(
            "loss_ratio",
            "ratio",
            "probes",
            "<=",
            ("ratio",),
            True,
            description="packet loss ratio (Y.1540 IPLR, RFC 7680 / RFC 6673)",
        ),
        MetricSpec(
            "error_ratio",
            "ratio",
            "probes",
            "<=",
            ("ratio",),
            True,
            observable=False,
            description="Y.1540 IPER: errored packets are not recorded by the toolkit",
        ),
        MetricSpec(
            "download_speed",
            "rate",
            "throughput",
            ">=",
            _SPEED_STATS,
            False,
            description="transport-payload goodput per download test (BEREC)",
        ),
        MetricSpec(
            "upload_speed",
            "rate",
            "throughput",
            ">=",
            _SPEED_STATS,
            False,
            description="transport-payload goodput per upload test (BEREC)",
        ),
        MetricSpec(
            "transaction_time",
            "duration",
            "timing",
            "<=",
            _DELAY_STATS,
            False,
            description="total time of a timed transaction (web page, DNS lookup)",
        ),
    )
}

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
