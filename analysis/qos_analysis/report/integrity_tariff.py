"""The report's integrity and tariff sections (docs/methods.md §13, §14).

* **Integrity**: per integrity collector and target, how many completed tests were clean or
  manipulated and how many could not be completed; then each finding with its time, what
  the reference sent or holds and what arrived — evidence to quote in a complaint.  The
  section appears whenever the data holds integrity tests, whatever the profile.
* **Tariff**: the figures of :mod:`qos_analysis.tariff` for a profile with ``[tariff]``.

Every string from the data is cleaned here (:mod:`qos_analysis.report.text`); renderers
escape for their format.
"""

from __future__ import annotations

from collections.abc import Mapping

from qos.profiles import Profile
from qos_analysis.integrity import integrity_findings, integrity_summary
from qos_analysis.load import Dataset
from qos_analysis.report.model import (
    Integrity,
    IntegrityFinding,
    IntegrityTests,
    TariffFacts,
    TariffUsage,
)
from qos_analysis.report.text import clean, clean_name
from qos_analysis.tariff import tariff_figures, tariff_lines

MAX_FINDINGS = 200
_EVIDENCE_CHARS = 500


def build_integrity(data: Dataset) -> Integrity | None:
    """The integrity section, or None when the data holds no integrity test."""
    summary = integrity_summary(data)
    if summary.empty:
        return None
    tests = tuple(
        IntegrityTests(
            collector=clean_name(row["collector"]),
            target=clean_name(row["target"]),
            clean=int(row["clean"]),
            manipulated=int(row["manipulated"]),
            failed=int(row["failed"]),
        )
        for _, row in summary.iterrows()
    )
    findings = integrity_findings(data)
    listed = tuple(
        IntegrityFinding(
            started_at=row["started_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            collector=clean_name(row["collector"]),
            target=clean_name(row["target"]),
            kind=clean_name(row["kind"]),
            subject=clean_name(row["subject"]),
            expected=clean_name(
                row["expected"] if row["expected"] is not None else "—", _EVIDENCE_CHARS
            ),
            observed=clean_name(
                row["observed"] if row["observed"] is not None else "—", _EVIDENCE_CHARS
            ),
        )
        for row in findings.head(MAX_FINDINGS).to_dict("records")
    )
    return Integrity(tests, listed, max(0, len(findings) - MAX_FINDINGS))


def build_tariff(
    data: Dataset, profile: Profile, params: Mapping[str, str] | None
) -> TariffFacts | None:
    """The tariff section, or None when the profile has no ``[tariff]``."""
    figures = tariff_figures(data, profile, dict(params or {}))
    if figures is None:
        return None
    return TariffFacts(
        currency=figures.currency,
        price_per_month=str(figures.price_per_month),
        downloads=figures.downloads,
        median_download_bps=figures.median_download_bps,
        advertised_download_bps=figures.advertised_download_bps,
        price_per_mbps_median=_text(figures.price_per_mbps_median),
        price_per_mbps_advertised=_text(figures.price_per_mbps_advertised),
        delivered_share=figures.delivered_share,
        data_allowance_bytes=figures.data_allowance_bytes,
        usage=tuple(
            TariffUsage(u.month, u.bytes, u.records, u.allowance_share) for u in figures.usage
        ),
        lines=tuple(clean(line.strip()) for line in tariff_lines(figures)[2:]),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
