"""The methodology section, generated from the sources the computation itself uses.

Metric definitions come from the profile metric catalogue (:data:`qos.profiles.METRICS`),
citations from the profile's ``[source]`` and each objective's clause, population rules
from :mod:`qos_analysis.populations` (the module that applies them), and the confidence
methods from the verdicts — so the text cannot drift from what was computed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from qos.profiles import METRICS, Profile
from qos_analysis import populations
from qos_analysis.load import Dataset
from qos_analysis.report.model import Methodology, MetricDefinition, Verdict
from qos_analysis.report.text import clean

PERCENTILE_METHOD = (
    "Exact-rank percentiles (RFC 2330 §11.3): the p-th percentile is the smallest sample x "
    "whose empirical distribution function reaches p, the order statistic X(⌈p·n⌉), with the "
    "rank computed in exact rational arithmetic; the median follows RFC 7679 §4.3. "
    "Delay statistics use delivered packets unless an objective counts lost packets as "
    "infinite delay."
)
ONE_WAY_RULES = {
    "rtt-half": "one-way objectives on round-trip data use one-way delay ≈ RTT/2 (assumes a "
    "symmetric path) and loss counted over the round trip; such verdicts are marked approximate",
    "refuse": "one-way objectives on round-trip data are not judged (inconclusive)",
}


def source_text(profile: Profile) -> str:
    s = profile.source
    parts = [f"{s.document} ({s.edition}), {s.clause}"]
    if s.secondary:
        parts.append(f"secondary: {s.secondary}")
    if s.url:
        parts.append(s.url)
    if s.notes:
        parts.append(s.notes)
    parts.append("verified against the primary text" if s.verified else "not yet verified")
    return clean("; ".join(parts))


def population_rules() -> tuple[str, ...]:
    """The bullet list of :mod:`qos_analysis.populations`' docstring, as plain sentences."""
    doc = populations.__doc__ or ""
    bullets: list[str] = []
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith("* "):
            bullets.append(stripped[2:])
        elif bullets and stripped and line.startswith("  "):
            bullets[-1] += " " + stripped
    return tuple(clean(re.sub(r"``([^`]*)``", r"\1", b)) for b in bullets)


def build_methodology(profile: Profile, data: Dataset, verdicts: Sequence[Verdict]) -> Methodology:
    metrics = []
    for name in dict.fromkeys(o.metric for o in profile.objectives):
        objs = [o for o in profile.objectives if o.metric == name]
        spec = METRICS.get(name)
        metrics.append(
            MetricDefinition(
                metric=clean(name, 100),
                definition=clean(spec.description if spec else "unknown metric"),
                objectives=tuple(clean(o.id, 200) for o in objs),
                clauses=tuple(dict.fromkeys(clean(o.clause, 500) for o in objs)),
            )
        )
    return Methodology(
        metrics=tuple(metrics),
        source=source_text(profile),
        bound_methods=tuple(sorted({v.bound_method for v in verdicts if v.bound_method})),
        percentile_method=PERCENTILE_METHOD,
        population_rules=population_rules(),
        exclusions=_exclusions(data, verdicts, {o.note for o in profile.objectives}),
        one_way_rule=clean(
            f"{profile.one_way_rule}: {ONE_WAY_RULES.get(profile.one_way_rule, '')}"
        ),
        rules_used=tuple(sorted({v.rule for v in verdicts if v.rule})),
    )


def _exclusions(
    data: Dataset, verdicts: Sequence[Verdict], objective_notes: set[str]
) -> tuple[str, ...]:
    out = []
    meas = data.measurements
    if len(meas):
        status = meas["status"].astype(str)
        for word in ("error", "skipped", "timeout", "unreachable"):
            n = int((status == word).sum())
            if n:
                verb = "excluded" if word in ("error", "skipped") else "counted as loss / failure"
                out.append(f"{n:,} measurement(s) with status '{word}': {verb}")
    # A verdict's note joins the objective's own note with the population's notes.
    skip = {clean(n) for n in objective_notes}
    notes = {n for v in verdicts for n in v.note.split("; ") if n and n not in skip}
    out.extend(sorted(clean(n) for n in (*data.notes, *notes)))
    if not out:
        out.append("nothing excluded: every measurement in the period completed")
    return tuple(dict.fromkeys(out))


def period_of(data: Dataset) -> tuple[str | None, str | None]:
    """First and last measurement start (UTC, ISO 8601) of the data set."""
    if data.measurements.empty:
        return None, None
    started = pd.to_datetime(data.measurements["started_at"], utc=True)
    return (
        started.min().isoformat().replace("+00:00", "Z"),
        started.max().isoformat().replace("+00:00", "Z"),
    )
