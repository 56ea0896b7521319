"""Formatted cells shared by the HTML and Markdown templates (numbers → text, once)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qos_analysis.report.fmt import comparison, interval, number
from qos_analysis.report.model import Report, SummaryRow, Verdict

MAX_VERDICT_ROWS = 2000
OUTCOME_CLASS = {
    "pass": "pass",
    "fail": "fail",
    "inconclusive": "inconclusive",
    "not assessed": "not-assessed",
}


@dataclass(frozen=True)
class VerdictView:
    outcome: str
    css: str
    objective: str
    title: str
    scope: str
    window: str
    value: str
    bound: str
    limit: str
    ci: str
    n: str
    clause: str
    source: str
    approximate: str
    rule: str
    reason: str
    windows: str = ""


def _window(v: Verdict) -> str:
    if v.window == "all" or not v.window_start:
        return "whole period"
    return f"{v.window_start:%Y-%m-%d %H:%M} UTC ({v.window})"


def verdict_view(v: Verdict, windows: str = "") -> VerdictView:
    conf = f" ({v.confidence * 100:g} %)" if math.isfinite(v.confidence) else ""
    return VerdictView(
        outcome=v.outcome.upper(),
        css=OUTCOME_CLASS.get(v.outcome, "inconclusive"),
        objective=v.objective + (f" [{v.direction}]" if v.direction else ""),
        title=v.title,
        scope=v.scope,
        window=_window(v),
        value=number(v.value, v.unit),
        bound=number(v.bound, v.unit) + (conf if v.bound is not None else ""),
        limit=f"{comparison(v.comparison)} {number(v.limit, v.unit)}",
        ci=interval(v.ci_low, v.ci_high, "ratio") if v.ci_low is not None else "",
        n=f"{v.n_samples:,} / {v.min_samples:,}",
        clause=v.clause,
        source=v.source,
        approximate="approximate" if v.approximate else "",
        rule=v.rule,
        reason=v.reason,
        windows=windows,
    )


def summary_view(row: SummaryRow) -> VerdictView:
    counts = ", ".join(f"{n:,} {word}" for word, n in row.counts)
    windows = "1 (whole period)" if row.windows == 1 else f"{row.windows:,}: {counts}"
    return verdict_view(row.decisive, windows)


def verdict_table(report: Report) -> tuple[list[VerdictView], int]:
    """The appendix rows (at most :data:`MAX_VERDICT_ROWS`) and how many were left out."""
    shown = [verdict_view(v) for v in report.verdicts[:MAX_VERDICT_ROWS]]
    return shown, max(0, len(report.verdicts) - MAX_VERDICT_ROWS)


def period_text(report: Report) -> str:
    p = report.provenance
    if not p.period_start or not p.period_end:
        return "no measurements in the period"
    return f"{p.period_start[:16].replace('T', ' ')} – {p.period_end[:16].replace('T', ' ')} UTC"


def template_context(report: Report) -> dict[str, object]:
    """What every document template receives: the model and its formatted views."""
    rows, left_out = verdict_table(report)
    return {
        "report": report,
        "period": period_text(report),
        "summary": [summary_view(r) for r in report.summary],
        "verdicts": rows,
        "verdicts_left_out": left_out,
    }
