"""Build the report model once, from a loaded data set and the verdict table.

Everything a renderer shows is decided here: which verdicts, which figures (made once), the
summary lines, what would decide the inconclusive objectives, methodology and provenance.
Renderers only format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from qos.profiles import Profile
from qos_analysis.load import Dataset
from qos_analysis.report.adapter import adapt_verdicts
from qos_analysis.report.evidence import build_evidence
from qos_analysis.report.integrity_tariff import build_integrity, build_tariff
from qos_analysis.report.methodology import build_methodology
from qos_analysis.report.model import Report, ScopeSection, Verdict
from qos_analysis.report.provenance import build_provenance
from qos_analysis.report.scopes import SpeedScope, probe_scopes, speed_scopes
from qos_analysis.report.sections import (
    MAX_SECTIONS,
    failing_windows,
    probe_section,
    speed_section,
)
from qos_analysis.report.summary import summary_rows, undecided_rows
from qos_analysis.report.text import clean
from qos_analysis.scoring.decide import overall

Step = Callable[[str], None]


def build_report(
    data: Dataset,
    profile: Profile,
    verdicts: Any,
    *,
    title: str | None = None,
    params: Mapping[str, str] | None = None,
    command: str = "",
    generated_at: datetime | None = None,
    step: Step | None = None,
) -> Report:
    """The whole report model; ``verdicts`` is what :func:`qos_analysis.scoring.score`
    returned for ``data`` and ``profile`` (read through :func:`adapt_verdicts` only)."""
    tick = step or (lambda _name: None)
    rows = adapt_verdicts(verdicts)
    summary = summary_rows(rows)
    tick("summary")
    speeds = speed_scopes(data, profile.failed_tests)
    sections, section_notes = _sections(data, profile, rows, speeds, tick)
    report = Report(
        title=clean(title or f"Service quality against {profile.title or profile.id}", 300),
        generated_at=_stamp(generated_at),
        overall=str(overall(rows)),
        headline="",
        summary=summary,
        verdicts=rows,
        sections=sections,
        undecided=undecided_rows(summary),
        methodology=build_methodology(profile, data, rows),
        provenance=build_provenance(data, profile, params or {}, command),
        evidence=build_evidence(profile, summary, speeds),
        warnings=tuple(_warnings(data, rows)) + section_notes,
        integrity=build_integrity(data),
        tariff=build_tariff(data, profile, params),
    )
    tick("model")
    return replace(report, headline=headline(report))


def _sections(
    data: Dataset,
    profile: Profile,
    rows: tuple[Verdict, ...],
    speeds: list[SpeedScope],
    tick: Step,
) -> tuple[tuple[ScopeSection, ...], tuple[str, ...]]:
    failing = failing_windows(rows)
    out: list[ScopeSection] = []
    probes = probe_scopes(data, profile.failed_tests)
    for i, scope in enumerate(probes[:MAX_SECTIONS]):
        key = (scope.agent_id, scope.collector, scope.target)
        out.append(probe_section(i, scope, failing.get(key, []), profile))
        tick("figures")
    for i, speed in enumerate(speeds[:MAX_SECTIONS]):
        out.append(speed_section(i, speed, profile))
        tick("figures")
    notes = []
    dropped = max(0, len(probes) - MAX_SECTIONS) + max(0, len(speeds) - MAX_SECTIONS)
    if dropped:
        notes.append(
            f"{dropped} further scope(s) have no figure section (at most {MAX_SECTIONS} per "
            "kind); their verdicts are all in the tables"
        )
    return tuple(out), tuple(notes)


def _warnings(data: Dataset, rows: tuple[Verdict, ...]) -> list[str]:
    out = []
    if data.measurements.empty:
        out.append("No measurements in the data for this period: nothing could be judged.")
    if not rows:
        out.append("The profile produced no verdicts for this data.")
    elif all(v.outcome in ("inconclusive", "not assessed") for v in rows):
        out.append(
            "No objective could be decided: every verdict is inconclusive. "
            "The section 'Why not decided' says what data would decide each one."
        )
    return out


def headline(report: Report) -> str:
    """One sentence a reader sees first."""
    counts: dict[str, int] = {}
    for row in report.summary:
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    parts = ", ".join(f"{n} {word}" for word, n in counts.items())
    objectives = len(report.summary)
    if not objectives:
        return "No objective could be evaluated on this data."
    return f"{objectives} objective × scope line(s): {parts}."


def _stamp(when: datetime | None) -> str:
    import os

    if when is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
        when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
