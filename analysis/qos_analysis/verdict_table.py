"""The verdict table as a person reads it in a terminal (``qos score``).

Full objective ids, agent ids shortened to a unique prefix (``--format json|csv`` keep them
whole), the confidence bound in a named column, ``N`` as samples / samples needed,
approximations in their own column with a legend, the reasons in the table's units, and
per-objective window counts when the data spans several windows.  Every string from the
data passes through :func:`~qos_analysis.presentation.neutralize`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any, TextIO

import pandas as pd

from qos_analysis.presentation import format_limit, format_quantity, neutralize, short_ids
from qos_analysis.scoring.decide import OverallOutcome
from qos_analysis.scoring.rules import RULE_DIRECTIONAL, RULE_RT_LOSS, RULE_RTT_HALF

_RULE_LABELS = {
    RULE_RTT_HALF: "≈ rtt/2",
    RULE_RT_LOSS: "≈ rt-loss",
    RULE_DIRECTIONAL: "one-way",
}
_MAX_REASONS = 20


def _rule_label(rule: str, approximate: bool) -> str:
    label = _RULE_LABELS.get(rule, rule)
    if approximate and not label.startswith("≈"):
        label = f"≈ {label}" if label else "≈"
    return label


def _scope(row: pd.Series, agents: dict[str, str]) -> str:
    if row["agent_id"] is None or pd.isna(row["agent_id"]):
        return str(row["scope"])
    parts = [agents[str(row["agent_id"])], str(row["collector"]), str(row["target"])]
    if row["direction"]:
        parts.append(str(row["direction"]))
    return neutralize("|".join(parts), max_length=60)


def _window_start(value: Any) -> str:
    if value is None or isinstance(value, float) or pd.isna(value):
        return ""
    return value.strftime("%Y-%m-%d %H:%M")


def _bound_cell(row: pd.Series) -> str:
    le = row["comparison"] == "<="
    bound = row["upper_bound"] if le else row["lower_bound"]
    if bound is None or (isinstance(bound, float) and pd.isna(bound)):
        return "—"
    return f"{'upper' if le else 'lower'} {format_quantity(bound, row['unit'])}"


def _bound_header(verdicts: pd.DataFrame) -> str:
    levels = set(verdicts["confidence"].dropna())
    if len(levels) == 1:
        return f"{next(iter(levels)):.0%} BOUND".replace("%", " %")
    return "BOUND"


def table_rows(verdicts: pd.DataFrame) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The header and the rows of the table, as text."""
    agents = short_ids([str(a) for a in verdicts["agent_id"].dropna()])
    header: tuple[str, ...] = (
        "OUTCOME",
        "OBJECTIVE",
        "SCOPE",
        "WINDOW START",
        "VALUE",
        "LIMIT",
        _bound_header(verdicts),
        "N/MIN",
        "RULE",
    )
    rows: list[tuple[str, ...]] = []
    for _, v in verdicts.iterrows():
        rows.append(
            (
                str(v["outcome"]).upper(),
                neutralize(v["objective"], max_length=40),
                _scope(v, agents),
                _window_start(v["window_start"]),
                format_quantity(v["value"], v["unit"]),
                format_limit(v["comparison"], v["limit"], v["unit"]),
                _bound_cell(v),
                f"{int(v['n_samples'])}/{int(v['min_samples'])}",
                _rule_label(str(v["rule"]), bool(v["approximate"])),
            )
        )
    return header, rows


def _legend(verdicts: pd.DataFrame, bound_header: str) -> list[str]:
    lines = [
        "VALUE: the statistic measured in the window.  "
        f"{bound_header}: the one-sided confidence bound that decides the verdict "
        "(upper for ≤ limits, lower for ≥ limits; literal rules use the value itself).",
        "N/MIN: samples in the window / samples the objective needs (min_samples).",
    ]
    rules = sorted(set(verdicts.loc[verdicts["approximate"].astype(bool), "rule"]) - {""})
    for rule in rules:
        lines.append(f"RULE {_rule_label(rule, True)}: approximate — {rule}")
    if (verdicts["rule"] == RULE_DIRECTIONAL).any():
        lines.append(f"RULE one-way: {RULE_DIRECTIONAL}")
    return lines


def _reasons(verdicts: pd.DataFrame, agents: dict[str, str]) -> list[str]:
    open_rows = verdicts[verdicts["outcome"] != "pass"]
    if open_rows.empty:
        return []
    lines = ["", "why not pass:"]
    unique = open_rows.drop_duplicates(["objective", "scope", "reason"])
    for _, r in unique.head(_MAX_REASONS).iterrows():
        lines.append(
            f"  {neutralize(r['objective'], 40)} [{_scope(r, agents)}]: "
            f"{neutralize(r['reason'], 400)}"
        )
    if len(unique) > _MAX_REASONS:
        lines.append(f"  … and {len(unique) - _MAX_REASONS} more (--format json lists all)")
    return lines


def window_summary(verdicts: pd.DataFrame) -> list[str]:
    """One line per objective scored in several windows: how many passed, failed, were
    inconclusive."""
    lines: list[str] = []
    for objective, rows in verdicts.groupby("objective", sort=False):
        if rows["window_start"].nunique(dropna=True) < 2:
            continue
        counts = rows["outcome"].value_counts()
        parts = [
            f"{int(counts.get(o, 0))} {o}" for o in ("pass", "fail", "inconclusive") if o in counts
        ]
        lines.append(f"  {neutralize(objective, 40)}: {len(rows)} windows — " + ", ".join(parts))
    return (["", "windows per objective:", *lines]) if lines else []


def print_verdict_table(
    verdicts: pd.DataFrame,
    profile_id: str,
    summary: OverallOutcome,
    notes: Sequence[str],
    out: TextIO,
) -> None:
    """Write the whole terminal report of ``qos score`` to ``out``."""
    n = len(verdicts)
    print(
        f"profile {neutralize(profile_id)}: overall {summary.outcome.upper()} — "
        f"{summary.text} ({n} verdict{'s' if n != 1 else ''})",
        file=out,
    )
    for note in notes:
        print(f"note: {neutralize(note, 400)}", file=out)
    if verdicts.empty:
        return
    header, rows = table_rows(verdicts)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), file=out)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)
    print("", file=out)
    for line in _legend(verdicts, header[6]):
        print(textwrap.fill(line, width=100, subsequent_indent="  "), file=out)
    agents = short_ids([str(a) for a in verdicts["agent_id"].dropna()])
    for line in [*_reasons(verdicts, agents), *window_summary(verdicts)]:
        print(line, file=out)
