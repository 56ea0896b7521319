"""One row per panellist (agent): the figures the panel views are built from.

The panellist, not the test, is the unit of the regulator's panel views (FCC MBA, Ofcom):
each agent contributes one value per view, so a busy agent does not outweigh a quiet one
and the pairwise tests compare independent units.

* ``median_download_ratio`` — RFC 2330 median of the agent's download tests over its
  advertised download speed; a failed test counts as speed 0 (as in scoring).
* ``consistent_ratio`` — the speed reached or exceeded in 80 % of the agent's peak-hour
  download tests (the 20th percentile) over the advertised speed: the agent's "80/80" figure.
* ``peak_loss`` — lost / sent probes of RTT tests started in the peak hours (local time).
* ``median_rtt_s`` — RFC 2330 median RTT of the agent's delivered probes.

Peak hours are local 19:00–23:00 by default (Ofcom, FCC MBA), in the agent's time zone from
the dataset or the metadata table; agents without a known zone are left out of peak views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qos_analysis.load import Dataset
from qos_analysis.stats.quantiles import percentile


@dataclass(frozen=True)
class PeakHours:
    start: int = 19
    end: int = 23

    def contains(self, hours: np.ndarray) -> np.ndarray:
        return (hours >= self.start) & (hours < self.end)


def local_hours(meas: pd.DataFrame, zones: pd.Series) -> np.ndarray:
    """Local hour of each measurement's start (NaN where the agent's zone is unknown)."""
    out = np.full(len(meas), np.nan)
    tz = meas["agent_id"].map(zones)
    for zone, rows in meas.groupby(tz, sort=False).groups.items():
        idx = meas.index.get_indexer(rows)
        out[idx] = meas["started_at"].iloc[idx].dt.tz_convert(str(zone)).dt.hour.to_numpy()
    return out


def _ratio(value: float, advertised: float) -> float:
    return value / advertised if advertised and np.isfinite(advertised) else np.nan


def panellists(data: Dataset, meta: pd.DataFrame, peak: PeakHours) -> pd.DataFrame:
    meas = data.measurements.reset_index(drop=True)
    zones = data.agents.set_index("agent_id")["timezone"].dropna()
    if "timezone" in meta.columns:
        zones = meta.set_index("agent_id")["timezone"].dropna().combine_first(zones)
    hours = local_hours(meas, zones)
    in_peak = peak.contains(hours)
    failed = meas["status"].isin(["timeout", "unreachable"]).to_numpy()
    usable = ~meas["status"].isin(["error", "skipped"]).to_numpy()
    direction = meas["direction"].to_numpy(dtype=object)
    params_dir = meas["params_json"].str.extract(r'"direction":\s*"(\w+)"')[0].to_numpy()
    direction = np.where(pd.isna(direction), params_dir, direction)
    speed = np.where(failed, 0.0, meas["goodput_bps"].to_numpy(dtype=float))
    is_down = usable & (direction == "download") & ~np.isnan(speed)
    probes = _probe_frame(data, meas, in_peak)
    tests = pd.DataFrame(
        {
            "agent": meas["agent_id"].to_numpy()[is_down],
            "speed": speed[is_down],
            "peak": in_peak[is_down],
        }
    )
    by_agent = {str(a): g for a, g in tests.groupby("agent", sort=False)}
    advertised = (
        meta.set_index("agent_id")["advertised_download_bps"]
        if "advertised_download_bps" in meta.columns
        else pd.Series(dtype=float)
    )
    rows = []
    for agent in meta["agent_id"]:
        adv = float(advertised.get(agent, np.nan))
        g = by_agent.get(agent)
        down = np.empty(0) if g is None else g["speed"].to_numpy()
        peak_down = np.empty(0) if g is None else down[g["peak"].to_numpy()]
        p = probes.get(agent)
        rows.append(
            {
                "agent_id": agent,
                "download_tests": len(down),
                "median_download_ratio": (
                    _ratio(percentile(down, "0.5"), adv) if len(down) else np.nan
                ),
                "peak_download_tests": len(peak_down),
                "consistent_ratio": (
                    _ratio(percentile(peak_down, "0.2"), adv) if len(peak_down) else np.nan
                ),
                "peak_probes": 0 if p is None else p[0],
                "peak_loss": np.nan if p is None or not p[0] else p[1] / p[0],
                "median_rtt_s": np.nan if p is None else p[2],
            }
        )
    return pd.DataFrame(rows)


def _probe_frame(
    data: Dataset, meas: pd.DataFrame, in_peak: np.ndarray
) -> dict[str, tuple[int, int, float]]:
    """agent → (peak probes sent, peak probes lost, median RTT of delivered probes)."""
    if data.probes.empty:
        return {}
    ids = pd.Index(meas["measurement_id"])
    row = ids.get_indexer(data.probes["measurement_id"].astype(str))
    usable = ~meas["status"].isin(["error", "skipped"]).to_numpy()
    keep = (row >= 0) & usable[np.maximum(row, 0)]
    row = row[keep]
    agent = meas["agent_id"].to_numpy()[row]
    lost = data.probes["lost"].to_numpy()[keep]
    rtt = data.probes["rtt_s"].to_numpy()[keep]
    peak = in_peak[row]
    out = {}
    frame = pd.DataFrame({"agent": agent, "lost": lost, "rtt": rtt, "peak": peak})
    for name, g in frame.groupby("agent", sort=False):
        pk = g["peak"].to_numpy()
        delivered = g["rtt"].to_numpy()[~g["lost"].to_numpy()]
        out[str(name)] = (
            int(pk.sum()),
            int(g["lost"].to_numpy()[pk].sum()),
            percentile(delivered, "0.5") if len(delivered) else np.nan,
        )
    return out
