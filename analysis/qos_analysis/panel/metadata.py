"""The agents metadata table: who each panellist is (operator, region, plan, technology,
advertised speeds).  Agents never record these themselves; the panel's owner keeps them in
``agents.csv`` (or ``.parquet``) and they are joined by agent id.

Columns: ``agent_id`` (required), ``operator``, ``region``, ``plan``, ``technology``,
``advertised_download_bps``, ``advertised_upload_bps``, optionally ``timezone``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qos_analysis.readers import DataError

GROUP_COLUMNS = ("operator", "region", "plan", "technology")
RATE_COLUMNS = ("advertised_download_bps", "advertised_upload_bps")
METADATA_COLUMNS = ("agent_id", *GROUP_COLUMNS, *RATE_COLUMNS, "timezone")


def read_metadata(path: Path) -> pd.DataFrame:
    """Read and check the table: one row per agent id, advertised speeds positive numbers."""
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable agents table: {exc}") from None
    if "agent_id" not in frame.columns:
        raise DataError(f"{path}: agents table has no agent_id column")
    if frame["agent_id"].isna().any():
        raise DataError(f"{path}: agents table has rows without agent_id")
    dup = frame["agent_id"][frame["agent_id"].duplicated()]
    if len(dup):
        raise DataError(f"{path}: agent id(s) listed twice: {', '.join(map(repr, dup[:5]))}")
    for name in RATE_COLUMNS:
        if name in frame.columns:
            values = pd.to_numeric(frame[name], errors="coerce")
            bad = frame[name].notna() & ~(values > 0)
            if bad.any():
                raise DataError(f"{path}: {name} must be a positive number (bit/s)")
            frame[name] = values
    frame["agent_id"] = frame["agent_id"].astype(str)
    return frame.reset_index(drop=True)


def find_metadata(dataset: Path) -> Path | None:
    for name in ("agents.csv", "agents.parquet"):
        if (dataset / name).is_file():
            return dataset / name
    return None
