"""One observed manipulation and the record every integrity collector produces.

A finding names what changed (``subject``), what the reference sent or holds
(``expected``) and what arrived (``observed``): the evidence a complaint can quote.  The
outcome of a completed test is ``"manipulated"`` when there is at least one finding and
``"clean"`` otherwise; a test that could not be completed is a failed measurement with no
outcome, never ``"clean"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qos.records import TimingResult

MANIPULATED = "manipulated"
CLEAN = "clean"
_MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference between what the reference sent and what arrived."""

    kind: str  # e.g. "request_header_added", "spki_mismatch", "port_blocked"
    subject: str  # the header, name, port or certificate field concerned
    expected: str | None
    observed: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: _clip(v) for k, v in asdict(self).items()}


def _clip(value: str | None) -> str | None:
    if value is None or len(value) <= _MAX_TEXT:
        return value
    return value[:_MAX_TEXT] + f"... ({len(value)} characters)"


def integrity_result(
    findings: list[Finding], elapsed_s: float, details: dict[str, Any]
) -> TimingResult:
    """The result of a completed test: outcome, the findings and the collector's evidence."""
    return TimingResult(
        phases_s={"total": elapsed_s},
        outcome=MANIPULATED if findings else CLEAN,
        details={**details, "findings": [f.as_dict() for f in findings]},
    )
