"""The report model: what a compliance report says, independent of any output format.

Built once by :mod:`qos_analysis.report.build` from a loaded data set and the verdict table,
then handed unchanged to every renderer (HTML, PDF, Markdown, JSON).  Its verdicts are the
scoring engine's own :class:`~qos_analysis.scoring.verdict.Verdict` records (one owner of
the verdict's fields), rebuilt by :mod:`qos_analysis.report.adapter` with neutralised
strings.  All strings in the model are neutralised (:mod:`qos_analysis.report.text`);
numbers are plain floats in base units (seconds, bit/s, ratios) with the unit named, so
each renderer formats them its own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from qos_analysis.scoring.verdict import OUTCOMES, Verdict

SCHEMA_ID = "qos-report/1"
OUTCOME_WORDS = OUTCOMES  # pass, fail, inconclusive, not assessed


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One objective × scope: its outcome over all windows and its deciding window."""

    objective: str
    title: str
    scope: str
    direction: str
    period: str | None
    outcome: str
    windows: int
    counts: tuple[tuple[str, int], ...]  # (outcome, windows) in OUTCOME_WORDS order
    decisive: Verdict  # the window that sets the outcome (worst value among those)


@dataclass(frozen=True, slots=True)
class Undecided:
    """Why an objective × scope is inconclusive and what more data would decide it."""

    objective: str
    scope: str
    direction: str
    windows: int
    reason: str
    needed: str


@dataclass(frozen=True, slots=True)
class Figure:
    """A PNG made once and shared by the HTML, PDF and Markdown renderers."""

    id: str  # file-name safe: used for Markdown's side files
    title: str
    alt: str
    png: bytes


@dataclass(frozen=True, slots=True)
class Table:
    """A small table of already formatted cells (peak/off-peak, throughput tests)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class ScopeSection:
    """Per agent × collector × target: figures and tables."""

    scope: str
    agent_id: str
    collector: str
    target: str
    timezone: str
    figures: tuple[Figure, ...]
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    metric: str
    definition: str
    objectives: tuple[str, ...]
    clauses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Methodology:
    metrics: tuple[MetricDefinition, ...]
    source: str  # the profile's primary source with clause
    bound_methods: tuple[str, ...]
    percentile_method: str
    population_rules: tuple[str, ...]
    exclusions: tuple[str, ...]
    one_way_rule: str
    rules_used: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Count:
    collector: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class Provenance:
    toolkit_version: str
    profile_id: str
    profile_title: str
    profile_file: str
    profile_sha256: str
    parameters: tuple[tuple[str, str], ...]
    agents: tuple[tuple[str, str], ...]  # (pseudonymous agent id, IANA time zone)
    period_start: str | None
    period_end: str | None
    records: tuple[Count, ...]
    probes: int
    clock_sync: str
    sources: tuple[str, ...]
    command: str


@dataclass(frozen=True, slots=True)
class Criterion:
    """One legal criterion of a consumer evidence report, with its wording."""

    objective: str
    wording: str
    outcome: str
    value: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Consumer evidence: campaign validity, what is missing, a paragraph for a complaint."""

    campaign_origin: str  # whose campaign rules apply
    campaign_rules: tuple[str, ...]
    campaign_problems: tuple[str, ...]
    missing: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    paragraph: str


@dataclass(frozen=True, slots=True)
class IntegrityTests:
    """Integrity tests of one collector against one reference (docs/methods.md §13)."""

    collector: str
    target: str
    clean: int
    manipulated: int
    failed: int  # not completed (reference unreachable …): neither clean nor manipulated


@dataclass(frozen=True, slots=True)
class IntegrityFinding:
    """One manipulation: when, which test, what changed, expected and observed."""

    started_at: str  # ISO 8601 UTC
    collector: str
    target: str
    kind: str
    subject: str
    expected: str
    observed: str


@dataclass(frozen=True, slots=True)
class Integrity:
    tests: tuple[IntegrityTests, ...]
    findings: tuple[IntegrityFinding, ...]
    more_findings: int  # findings not listed (the list is capped)


@dataclass(frozen=True, slots=True)
class TariffUsage:
    month: str  # "YYYY-MM" (UTC)
    bytes: int
    records: int
    allowance_share: float | None


@dataclass(frozen=True, slots=True)
class TariffFacts:
    """Price per delivered Mbit/s and the measurements' data use (docs/methods.md §14)."""

    currency: str
    price_per_month: str  # decimal text, exact as in the profile
    downloads: int
    median_download_bps: float | None
    advertised_download_bps: float | None
    price_per_mbps_median: str | None  # exact decimal text
    price_per_mbps_advertised: str | None
    delivered_share: float | None
    data_allowance_bytes: int | None
    usage: tuple[TariffUsage, ...]
    lines: tuple[str, ...]  # the figures worded, as ``qos score`` prints them


@dataclass(frozen=True, slots=True)
class Report:
    """A whole compliance report (rendered as HTML, PDF, Markdown and JSON)."""

    title: str
    generated_at: str
    overall: str
    headline: str
    summary: tuple[SummaryRow, ...]
    verdicts: tuple[Verdict, ...]
    sections: tuple[ScopeSection, ...]
    undecided: tuple[Undecided, ...]
    methodology: Methodology
    provenance: Provenance
    evidence: Evidence | None
    warnings: tuple[str, ...]
    schema: str = SCHEMA_ID
    integrity: Integrity | None = None
    tariff: TariffFacts | None = None

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(f for s in self.sections for f in s.figures)
