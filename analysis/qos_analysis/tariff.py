"""Tariff transparency: what each delivered Mbit/s costs and what measuring cost in bytes.

From a contract profile's ``[tariff]`` (:mod:`qos.profiles.tariff`) and the data set
(docs/methods.md §14):

* the **median download speed**: median goodput of the successful download throughput
  tests (the "normally available" speed of EU Regulation 2015/2120 Art. 4(1)(d) is judged
  against it);
* the **price per Mbit/s** at that median and at the advertised speed (price per month ÷
  Mbit/s), and the **share of the advertised speed** the median delivers;
* the **bytes the agent's own measurements used** per calendar month (UTC), counted as the
  agent's daily byte budgets count them (``bytes_on_wire`` in a record's details, else a
  throughput record's ``bytes_total``; skipped runs cost nothing), and their share of the
  monthly data allowance.

Money stays :class:`~decimal.Decimal` from the profile's digits to the printed figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd

from qos.profiles.model import Profile
from qos.units import format_bytes, format_rate
from qos_analysis.load import Dataset
from qos_analysis.presentation import neutralize

_MBIT = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class MonthUsage:
    """Bytes the measurements used in one calendar month (UTC) and the allowance share."""

    month: str  # "YYYY-MM"
    bytes: int
    records: int
    allowance_share: float | None


@dataclass(frozen=True, slots=True)
class TariffFigures:
    currency: str
    price_per_month: Decimal
    downloads: int
    median_download_bps: float | None
    advertised_download_bps: float | None
    price_per_mbps_median: Decimal | None
    price_per_mbps_advertised: Decimal | None
    delivered_share: float | None
    data_allowance_bytes: int | None
    usage: tuple[MonthUsage, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: money as decimal strings, rates in bit/s, shares as fractions."""
        return {
            "currency": self.currency,
            "price_per_month": str(self.price_per_month),
            "downloads": self.downloads,
            "median_download_bps": self.median_download_bps,
            "advertised_download_bps": self.advertised_download_bps,
            "price_per_mbps_median": _text(self.price_per_mbps_median),
            "price_per_mbps_advertised": _text(self.price_per_mbps_advertised),
            "delivered_share": self.delivered_share,
            "data_allowance_bytes": self.data_allowance_bytes,
            "usage": [vars_of(u) for u in self.usage],
        }


def vars_of(usage: MonthUsage) -> dict[str, Any]:
    return {
        "month": usage.month,
        "bytes": usage.bytes,
        "records": usage.records,
        "allowance_share": usage.allowance_share,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def price_per_mbps(price: Decimal, rate_bps: float | None) -> Decimal | None:
    """Price ÷ rate in Mbit/s (exact decimal arithmetic on the rate's shortest repr)."""
    if rate_bps is None or not rate_bps > 0:
        return None
    return price / (Decimal(repr(float(rate_bps))) / _MBIT)


def record_bytes(row: pd.Series) -> int:
    """What one record cost the user, counted as the agent's byte budgets count it."""
    if row["status"] == "skipped":
        return 0
    details: Any = {}
    if row["result_json"]:
        try:
            details = json.loads(row["result_json"]).get("details") or {}
        except (ValueError, AttributeError):
            details = {}
    on_wire = details.get("bytes_on_wire") if isinstance(details, dict) else None
    if isinstance(on_wire, int | float) and not isinstance(on_wire, bool) and on_wire >= 0:
        return int(on_wire)
    if row["kind"] == "throughput" and not pd.isna(row["bytes_total"]):
        return max(0, int(row["bytes_total"]))
    return 0


def monthly_usage(measurements: pd.DataFrame, allowance: int | None) -> tuple[MonthUsage, ...]:
    if measurements.empty:
        return ()
    frame = pd.DataFrame(
        {
            "month": measurements["started_at"].dt.strftime("%Y-%m"),
            "bytes": measurements.apply(record_bytes, axis=1).astype("int64"),
        }
    )
    out = []
    for month, rows in frame.groupby("month", sort=True):
        used = int(rows["bytes"].sum())
        share = used / allowance if allowance else None
        out.append(MonthUsage(str(month), used, len(rows), share))
    return tuple(out)


def tariff_figures(
    data: Dataset, profile: Profile, params: dict[str, str] | None = None
) -> TariffFigures | None:
    """The figures for ``profile``'s tariff, or None when it has no ``[tariff]``."""
    tariff = profile.tariff
    if tariff is None:
        return None
    m = data.measurements
    downloads = m[
        (m["kind"] == "throughput")
        & (m["direction"] == "download")
        & (m["status"] == "ok")
        & m["goodput_bps"].notna()
    ]["goodput_bps"]
    median = float(downloads.median()) if len(downloads) else None
    advertised = None
    if tariff.advertised_download is not None:
        advertised = profile.parameter_values(params or {}).get(tariff.advertised_download)
    share = median / advertised if median is not None and advertised else None
    return TariffFigures(
        currency=tariff.currency,
        price_per_month=tariff.price_per_month,
        downloads=len(downloads),
        median_download_bps=median,
        advertised_download_bps=advertised,
        price_per_mbps_median=price_per_mbps(tariff.price_per_month, median),
        price_per_mbps_advertised=price_per_mbps(tariff.price_per_month, advertised),
        delivered_share=share,
        data_allowance_bytes=tariff.data_allowance_bytes,
        usage=monthly_usage(m, tariff.data_allowance_bytes),
    )


def money(value: Decimal, currency: str) -> str:
    """``0.4998`` → ``"0.50 EUR"`` (two decimals, half-even)."""
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)} {neutralize(currency)}"


def tariff_lines(figures: TariffFigures) -> list[str]:
    """The short block ``qos score`` prints after the verdict table."""
    cur = figures.currency
    lines = ["", f"tariff: {money(figures.price_per_month, cur)} per month"]
    if figures.price_per_mbps_median is not None and figures.median_download_bps is not None:
        lines.append(
            f"  price per Mbit/s at the median download {format_rate(figures.median_download_bps)}"
            f" ({figures.downloads} tests): {money(figures.price_per_mbps_median, cur)}"
        )
    else:
        lines.append("  price per Mbit/s at the median download: no successful download test")
    if figures.price_per_mbps_advertised is not None and figures.advertised_download_bps:
        lines.append(
            f"  price per Mbit/s at the advertised {format_rate(figures.advertised_download_bps)}:"
            f" {money(figures.price_per_mbps_advertised, cur)}"
        )
    if figures.delivered_share is not None:
        lines.append(f"  delivered: {figures.delivered_share:.1%} of the advertised download speed")
    for usage in figures.usage:
        share = (
            f" = {usage.allowance_share:.2%} of the {format_bytes(figures.data_allowance_bytes)}"
            " allowance"
            if usage.allowance_share is not None
            else ""
        )
        lines.append(
            f"  measuring used {format_bytes(usage.bytes)} in {usage.month}"
            f" ({usage.records} record{'s' if usage.records != 1 else ''}){share}"
        )
    return lines
