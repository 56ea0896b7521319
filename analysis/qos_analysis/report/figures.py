"""Figures, made once with matplotlib's Agg backend and shared by every renderer.

Figures carry no free text from the data (targets, agent ids): titles and alt text live in
the report model, where they are neutralised, so a hostile name can neither break
matplotlib's math-text parser nor end up unescaped in a picture.  PNG output is
deterministic for the same inputs (no timestamps in the metadata).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from qos_analysis.report.model import Figure
from qos_analysis.report.windows import WindowStats

DPI = 96
_METADATA = {"Software": None}
_FAIL = "#c62828"
_LINE = "#1f4e79"
_LINE2 = "#e08a00"


def _new(
    width: float = 7.5, height: float = 2.8, ncols: int = 1, right: float = 0.98
) -> tuple[MplFigure, list]:
    # Fixed margins instead of a layout engine: constrained layout measures every tick
    # label and costs more than the drawing itself.
    fig = MplFigure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.subplots_adjust(left=0.09, right=right, bottom=0.27, top=0.95, wspace=0.35)
    return fig, list(axes)


def _png(fig: MplFigure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=_METADATA)
    return buf.getvalue()


def _dates(t_us: np.ndarray) -> np.ndarray:
    return np.asarray(t_us, dtype=np.int64).astype("datetime64[us]")


def latency_over_time(
    fid: str, title: str, stats: WindowStats, failing: Sequence[tuple[int, int]], label: str
) -> Figure:
    """Median and 95th percentile per window; windows with a failing verdict shaded red."""
    fig, (ax,) = _new()
    x = _dates(stats.start_us)
    ax.plot(x, stats.median_s * 1e3, color=_LINE, lw=1.2, label="median")
    ax.plot(x, stats.p95_s * 1e3, color=_LINE2, lw=1.0, label="95th percentile")
    if failing:
        # One collection for all failing windows (thousands of axvspan patches are slow).
        spans = np.asarray(failing, dtype=np.int64)
        xs = mdates.date2num(_dates(spans[:, 0]))
        widths = mdates.date2num(_dates(spans[:, 1])) - xs
        ymax = float(np.nanmax(stats.p95_s)) * 1e3 if np.isfinite(stats.p95_s).any() else 1.0
        ax.broken_barh(
            list(zip(xs, widths, strict=True)), (0, ymax * 1.05), color=_FAIL, alpha=0.18, lw=0
        )
        ax.plot([], [], color=_FAIL, alpha=0.3, lw=6, label="failing window")
        ax.set_ylim(bottom=0)
    ax.set_ylabel(f"{label} (ms)")
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.autofmt_xdate()
    alt = (
        f"{label} over time in {stats.width_label} windows, median and 95th percentile in "
        f"milliseconds; {len(failing)} window(s) with a failing verdict shaded"
    )
    return Figure(fid, title, alt, _png(fig))


def delay_cdf(fid: str, title: str, series: Sequence[tuple[str, np.ndarray]]) -> Figure:
    """Empirical CDF of each delay series (delivered packets only), at most 2,000 points."""
    fig, (ax,) = _new(height=2.6)
    probs = np.linspace(0.0, 1.0, 2001)
    parts = []
    for name, values in series:
        values = values[~np.isnan(values)]
        if values.size == 0:
            continue
        q = np.quantile(values, probs, method="inverted_cdf") * 1e3
        ax.step(q, probs, where="post", lw=1.2, label=name)
        parts.append(
            f"{name}: median {np.median(values) * 1e3:.3g} ms over {values.size:,} packets"
        )
    ax.set_xlabel("delay (ms)")
    ax.set_ylabel("fraction of packets")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    alt = "Cumulative distribution of delay; " + ("; ".join(parts) or "no delivered packets")
    return Figure(fid, title, alt, _png(fig))


def heatmaps(fid: str, title: str, median_ms: np.ndarray, loss: np.ndarray, zone: str) -> Figure:
    """Weekday × hour-of-day grids (local time) of median delay and of loss ratio."""
    fig, axes = _new(height=2.9, ncols=2, right=0.97)
    fig.subplots_adjust(left=0.06, bottom=0.17, top=0.9)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for ax, grid, name, cmap in (
        (axes[0], median_ms, "median delay (ms)", "viridis"),
        (axes[1], loss * 100, "loss (%)", "magma_r"),
    ):
        image = ax.imshow(
            np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, interpolation="none"
        )
        ax.set_yticks(range(7), days, fontsize=7)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=7)
        ax.set_xlabel("hour of day (agent's local time)", fontsize=8)
        ax.set_title(name, fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.85, pad=0.02)
    cells = int(np.sum(~np.isnan(median_ms)))
    alt = (
        f"Two heat maps by weekday (rows) and hour of day (columns) in the agent's local time "
        f"({zone}): median delay in milliseconds and loss in percent; "
        f"{cells} of 168 cells have data"
    )
    return Figure(fid, title, alt, _png(fig))


def loss_per_window(fid: str, title: str, stats: WindowStats) -> Figure:
    """Loss ratio per window with its two-sided Clopper–Pearson interval."""
    fig, (ax,) = _new(height=2.6)
    x = _dates(stats.start_us)
    y = stats.loss * 100
    err = np.vstack([y - stats.loss_low * 100, stats.loss_high * 100 - y])
    ax.errorbar(
        x, y, yerr=np.clip(err, 0, None), fmt="o", ms=2.5, lw=0.8, color=_LINE, ecolor="#7a9cc6"
    )
    ax.set_ylabel("loss (%)")
    ax.set_xlabel("time (UTC)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    worst = float(np.nanmax(stats.loss)) * 100 if stats.loss.size else float("nan")
    alt = (
        f"Loss per {stats.width_label} window in percent with 95 % confidence intervals; "
        f"{stats.start_us.size} windows, highest {worst:.3g} %"
    )
    return Figure(fid, title, alt, _png(fig))


def throughput_tests(
    fid: str,
    title: str,
    t_us: np.ndarray,
    goodput_bps: np.ndarray,
    lines: Sequence[tuple[str, float]],
) -> Figure:
    """Each test's goodput against the profile's contracted speeds."""
    fig, (ax,) = _new(height=2.6)
    ax.plot(_dates(t_us), goodput_bps / 1e6, "o", ms=4, color=_LINE, label="test")
    styles = ("--", "-.", ":", (0, (5, 1)))
    for (name, value), style in zip(lines, styles * 4, strict=False):
        ax.axhline(value / 1e6, ls=style, color=_LINE2, lw=1.0, label=name)
    ax.set_ylabel("goodput (Mbit/s)")
    ax.set_xlabel("time (UTC)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    fig.autofmt_xdate()
    alt = (
        f"Goodput of {goodput_bps.size} test(s) in Mbit/s, median "
        f"{np.median(goodput_bps) / 1e6:.3g} Mbit/s"
        + (
            "; contracted speeds drawn as lines: "
            + ", ".join(f"{n} {v / 1e6:.3g} Mbit/s" for n, v in lines)
            if lines
            else ""
        )
    )
    return Figure(fid, title, alt, _png(fig))
