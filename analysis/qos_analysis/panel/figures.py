"""One figure per panel view (PNG), for ``qos compare --figures DIR`` and for reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qos.text_safety import neutralize
from qos_analysis.panel.compare import Comparison


def write_figures(result: Comparison, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    g = result.groups
    for view in ("speed_bands", "peak_loss", "consistent_80_80"):
        rows = g[(g["view"] == view) & g["statistic"].str.startswith("share_")]
        groups = list(dict.fromkeys(rows["group"]))
        fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(groups) + 2), 3.5))
        bottom = np.zeros(len(groups))
        for stat in dict.fromkeys(rows["statistic"]):
            vals = [
                float(rows[(rows["group"] == grp) & (rows["statistic"] == stat)]["value"].iloc[0])
                for grp in groups
            ]
            vals = np.nan_to_num(np.asarray(vals))
            ax.bar(
                [neutralize(x, 30) for x in groups],
                vals,
                bottom=bottom,
                label=stat.removeprefix("share_"),
            )
            bottom += vals
        ax.set_ylabel("share of panellists")
        ax.set_title(f"{view} by {result.by}")
        ax.legend(fontsize="small")
        out.append(_save(fig, folder / f"{view}.png", plt))
    lat = g[(g["view"] == "latency") & (g["statistic"] == "median_rtt_s")]
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(lat) + 2), 3.5))
    value = lat["value"].to_numpy(dtype=float) * 1e3
    low = np.nan_to_num(value - lat["ci_low"].to_numpy(dtype=float) * 1e3)
    high = np.nan_to_num(lat["ci_high"].to_numpy(dtype=float) * 1e3 - value)
    ax.bar([neutralize(x, 30) for x in lat["group"]], value, yerr=[low, high], capsize=4)
    ax.set_ylabel("median of panellists' median RTT (ms)")
    ax.set_title(f"latency by {result.by}")
    out.append(_save(fig, folder / "latency.png", plt))
    return out


def _save(fig, path: Path, plt) -> Path:  # type: ignore[no-untyped-def]
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
