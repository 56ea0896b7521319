"""Integrity evidence from the data set: who changed what, test by test (docs/methods.md §13).

The integrity collectors (``dns_integrity``, ``http_integrity``, ``port_reachability``,
``tls_integrity``) record ``clean`` or ``manipulated`` with their findings (kind, subject,
expected, observed) in the result's details.  :func:`integrity_findings` flattens those
into one row per finding; :func:`integrity_summary` counts clean, manipulated and failed
tests per collector and target; :func:`evidence_lines` words findings for a verdict reason
or a report, every string from the data neutralised (header values and DNS answers are
chosen by whoever manipulates the traffic).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from qos.profiles.catalogue import INTEGRITY_COLLECTORS
from qos_analysis.load import Dataset
from qos_analysis.presentation import neutralize

MANIPULATED = "manipulated"
CLEAN = "clean"
FINDING_COLUMNS = [
    "measurement_id",
    "agent_id",
    "collector",
    "target",
    "started_at",
    "kind",
    "subject",
    "expected",
    "observed",
]


def _findings_of(result_json: str | None) -> list[dict[str, Any]]:
    if not result_json:
        return []
    try:
        details = json.loads(result_json).get("details") or {}
        findings = details.get("findings") or []
    except (ValueError, AttributeError):
        return []
    return [f for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []


def integrity_tests(data: Dataset) -> pd.DataFrame:
    """The integrity collectors' measurements."""
    m = data.measurements
    return m[m["collector"].isin(INTEGRITY_COLLECTORS)]


def integrity_findings(data: Dataset) -> pd.DataFrame:
    """One row per finding of every manipulated integrity test, oldest first."""
    tests = integrity_tests(data)
    manipulated = tests[(tests["status"] == "ok") & (tests["outcome"] == MANIPULATED)]
    rows = []
    for _, test in manipulated.sort_values("started_at", kind="stable").iterrows():
        for finding in _findings_of(test["result_json"]):
            rows.append(
                {
                    "measurement_id": test["measurement_id"],
                    "agent_id": test["agent_id"],
                    "collector": test["collector"],
                    "target": test["target"],
                    "started_at": test["started_at"],
                    **{k: finding.get(k) for k in ("kind", "subject", "expected", "observed")},
                }
            )
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def integrity_summary(data: Dataset) -> pd.DataFrame:
    """Per collector and target: clean, manipulated and failed tests (failed = no verdict)."""
    tests = integrity_tests(data)
    if tests.empty:
        return pd.DataFrame(columns=["collector", "target", "clean", "manipulated", "failed"])
    ok = tests["status"] == "ok"
    frame = tests.assign(
        clean=ok & (tests["outcome"] == CLEAN),
        manipulated=ok & (tests["outcome"] == MANIPULATED),
        failed=~ok | ~tests["outcome"].isin([CLEAN, MANIPULATED]),
    )
    counts = frame.groupby(["collector", "target"], sort=True)[["clean", "manipulated", "failed"]]
    return counts.sum().astype("int64").reset_index()


def _text(value: Any, length: int) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and pd.isna(value))
        else neutralize(value, length)
    )


def evidence_line(row: pd.Series | dict[str, Any], length: int = 120) -> str:
    """``2026-11-03 10:00 http_integrity request_header_added X-ISP-Tag: sent —, received
    'X-ISP-Tag: lab-proxy'``."""
    when = row["started_at"].strftime("%Y-%m-%d %H:%M") if row.get("started_at") is not None else ""
    return (
        f"{when} {neutralize(row['collector'], 40)} {_text(row['kind'], 40)} "
        f"{_text(row['subject'], 80)}: expected {_text(row['expected'], length)}, "
        f"observed {_text(row['observed'], length)}"
    ).strip()


def evidence_lines(findings: pd.DataFrame | Iterable[dict[str, Any]], limit: int = 5) -> list[str]:
    """The first ``limit`` findings as lines, and how many more there are."""
    rows = (
        list(findings.to_dict("records")) if isinstance(findings, pd.DataFrame) else list(findings)
    )
    lines = [evidence_line(r) for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit} more finding(s)")
    return lines
