"""The optional ``[tariff]`` table of a contract profile: what the service costs.

Consumer protection covers tariffs as well as quality: with the monthly price and the data
allowance the toolkit can say what each delivered Mbit/s costs and how much of the
allowance its own measurements used (docs/methods.md §14)::

    [tariff]
    price_per_month = 39.99
    currency = "EUR"                       # ISO 4217 code
    data_allowance_bytes = "100GB"         # or an integer number of bytes; optional
    advertised_download = "download_max"   # the rate parameter holding the advertised speed

The price is kept as a :class:`~decimal.Decimal` of the digits written in the profile, so
money figures are computed without binary rounding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from qos.errors import UnitError
from qos.profiles.model import Parameter
from qos.profiles.reader import Ctx
from qos.units import parse_size_bytes

_KEYS = {"price_per_month", "currency", "data_allowance_bytes", "advertised_download"}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
DEFAULT_ADVERTISED = "download_max"


@dataclass(frozen=True, slots=True)
class Tariff:
    """Monthly price, its currency, the data allowance and the advertised-speed parameter."""

    price_per_month: Decimal
    currency: str
    data_allowance_bytes: int | None = None
    advertised_download: str | None = None  # name of a rate parameter


def _price(value: Any, ctx: Ctx) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ctx.error("must be a number, e.g. 39.99", key="tariff.price_per_month")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ctx.error(f"not a number: {value!r}", key="tariff.price_per_month") from None
    if not price.is_finite() or price <= 0:
        raise ctx.error("must be a positive amount", key="tariff.price_per_month")
    return price


def _allowance(value: Any, ctx: Ctx) -> int:
    key = "tariff.data_allowance_bytes"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ctx.error("must be a byte count or a size such as '100GB'", key=key)
    try:
        size = parse_size_bytes(value, default_unit="B")
    except UnitError as exc:
        raise ctx.error(str(exc), key=key) from exc
    if size <= 0 or size != int(size):
        raise ctx.error("must be a positive whole number of bytes", key=key)
    return int(size)


def load_tariff(raw: Any, ctx: Ctx, parameters: Mapping[str, Parameter]) -> Tariff:
    """Validate ``[tariff]``; the advertised-speed parameter must be a rate parameter."""
    table = ctx.table(raw, "tariff")
    ctx.check_keys(table, _KEYS, "tariff")
    if "price_per_month" not in table:
        raise ctx.error("missing required key", key="tariff.price_per_month")
    currency = ctx.string(table, "currency", "tariff")
    if not _CURRENCY.match(currency):
        raise ctx.error(
            f"currency {currency!r} is not an ISO 4217 code", key="tariff.currency", hint="e.g. EUR"
        )
    advertised = table.get("advertised_download")
    if advertised is None:
        advertised = DEFAULT_ADVERTISED if DEFAULT_ADVERTISED in parameters else None
    elif not isinstance(advertised, str) or advertised not in parameters:
        raise ctx.error(
            f"no parameter {advertised!r} in [parameters]", key="tariff.advertised_download"
        )
    if advertised is not None and parameters[advertised].dimension != "rate":
        raise ctx.error(f"parameter {advertised!r} is not a rate", key="tariff.advertised_download")
    allowance = table.get("data_allowance_bytes")
    return Tariff(
        price_per_month=_price(table["price_per_month"], ctx),
        currency=currency,
        data_allowance_bytes=None if allowance is None else _allowance(allowance, ctx),
        advertised_download=advertised,
    )
