"""Restricting a data set to a period (``--since`` / ``--until``) without reloading it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from qos.errors import QosError
from qos.units import parse_duration_s
from qos_analysis.load import Dataset


class PeriodError(QosError):
    """A --since/--until value that is neither a date/time nor a duration."""


def parse_time(text: str | datetime | None, now: datetime | None = None) -> pd.Timestamp | None:
    """ISO 8601 date/time (UTC when no zone is given) or a duration back from now ("7d")."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        stamp = pd.Timestamp(text)
    else:
        try:
            seconds = parse_duration_s(str(text))
        except Exception:
            seconds = None
        if seconds is not None:
            return pd.Timestamp(now or datetime.now(UTC)) - pd.Timedelta(seconds=seconds)
        try:
            stamp = pd.Timestamp(str(text))
        except (ValueError, TypeError) as exc:
            raise PeriodError(
                f"cannot read {text!r} as a date/time (e.g. 2026-03-02T18:00Z) or a duration (7d)"
            ) from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def restrict(data: Dataset, since: pd.Timestamp | None, until: pd.Timestamp | None) -> Dataset:
    """Measurements that started in [since, until), with their probes and intervals."""
    if (since is None and until is None) or data.measurements.empty:
        return data
    started = data.measurements["started_at"]
    mask = np.ones(len(started), dtype=bool)
    if since is not None:
        mask &= (started >= since).to_numpy()
    if until is not None:
        mask &= (started < until).to_numpy()
    if mask.all():
        return data
    meas = data.measurements.loc[mask].reset_index(drop=True)
    ids = pd.Index(meas["measurement_id"].astype(str).to_numpy(dtype=object))
    new_pos = np.cumsum(mask) - 1
    return replace(
        data,
        measurements=meas,
        probes=_rekey(data.probes, mask, new_pos, ids),
        intervals=_rekey(data.intervals, mask, new_pos, ids),
    )


def _rekey(
    frame: pd.DataFrame, mask: np.ndarray, new_pos: np.ndarray, ids: pd.Index
) -> pd.DataFrame:
    if frame.empty or not isinstance(frame["measurement_id"].dtype, pd.CategoricalDtype):
        return frame.iloc[0:0] if frame.empty else frame
    codes = frame["measurement_id"].cat.codes.to_numpy()
    keep = mask[codes]
    out = frame.loc[keep].reset_index(drop=True)
    out["measurement_id"] = pd.Categorical.from_codes(
        new_pos[codes[keep]], categories=ids, validate=False
    )
    return out
