"""JSON under the versioned schema ``qos-report/1`` (``schema/qos-report-1.json``).

Every verdict is listed with value, limit, bounds, CI, n, min_samples, clause, source,
approximate, rule and reason.  Figures are not embedded (they are derived views).  The
generation time is left out, so the same inputs always give byte-identical JSON.
Non-finite numbers (a failed transaction counts as +∞) are written as the strings
``"Infinity"`` / ``"-Infinity"`` — JSON (RFC 8259 §6) has no such numbers.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC
from typing import Any

from qos_analysis.report.base import Rendered
from qos_analysis.report.model import Report, Verdict

_DROP = {"png", "generated_at"}
#: a verdict's fields in the document (qos-report/1); the profile is named once, at the top
_VERDICT_FIELDS = tuple(f.name for f in dataclasses.fields(Verdict) if f.name != "profile")
_TIME_FIELDS = ("window_start", "window_end")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _plain_verdict(verdict: Verdict) -> dict[str, Any]:
    """One verdict as JSON values: numbers, words, ISO 8601 UTC times (or null)."""
    out = {name: _number(getattr(verdict, name)) for name in _VERDICT_FIELDS}
    for name in _TIME_FIELDS:
        stamp = out[name]
        out[name] = None if stamp is None else f"{stamp.astimezone(UTC):{_ISO}}"
    out["outcome"] = str(verdict.outcome)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Verdict):  # the bulk of a large report: no generic recursion
        return _plain_verdict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _DROP
        }
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return _number(value)


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def report_document(report: Report) -> dict[str, Any]:
    doc = _plain(report)
    doc.pop("schema")
    for section in doc["sections"]:
        for fig in section["figures"]:
            fig.pop("png", None)
    for row in doc["summary"]:
        row["counts"] = {word: n for word, n in row["counts"]}
    return {"schema": report.schema, **doc}


class JsonRenderer:
    name = "json"
    suffix = ".json"

    def render(self, report: Report, stem: str) -> Rendered:
        text = json.dumps(report_document(report), indent=1, ensure_ascii=False, allow_nan=False)
        return Rendered((text + "\n").encode("utf-8"))
