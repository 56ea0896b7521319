"""One-line summaries of records for the terminal (``qos-agent run --once``, ``once``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qos.metrics import goodput_bps, summarize_rtt
from qos.records import Measurement, RttResult, ThroughputResult, TimingResult
from qos.text_safety import neutralize
from qos.units import format_duration, format_rate, format_ratio_percent

#: longest job, collector, target or status cell before it is cut with a marker
CELL_LIMIT = 80


def summarize(m: Measurement) -> dict[str, Any]:
    """The catalogue's figures for one record (base units), by result kind."""
    if isinstance(m.result, RttResult):
        figures: dict[str, Any] = dict(summarize_rtt(m.result))
        for key in (
            "latency_increase_s",
            "responsiveness_rpm",
            "forward_loss_ratio",
            "backward_loss_ratio",
        ):
            if key in m.result.details:
                figures[key] = m.result.details[key]
        return figures
    if isinstance(m.result, ThroughputResult):
        r = m.result
        return {
            "direction": r.direction,
            "streams": r.streams,
            "bytes_total": r.bytes_total,
            "goodput_bps": r.goodput_bps
            if r.goodput_bps is not None
            else goodput_bps(r.bytes_total, r.duration_s),
        }
    if isinstance(m.result, TimingResult):
        return {"outcome": m.result.outcome, **{f"{k}_s": v for k, v in m.result.phases_s.items()}}
    return {}


def _row(m: Measurement) -> list[str]:
    figures = summarize(m)
    job = m.labels.get("job", m.collector)
    target = m.target
    if isinstance(m.result, RttResult) and figures.get("sent"):
        detail = (
            f"{figures['received']}/{figures['sent']} replies, loss "
            f"{format_ratio_percent(figures['loss_ratio'])}, median "
            f"{format_duration(figures['rtt_median_s'])}, p95 "
            f"{format_duration(figures['rtt_p95_s'])}, RFC 3550 jitter "
            f"{format_duration(figures['jitter_rfc3550_s'])}"
        )
        if figures.get("latency_increase_s") is not None:
            detail += (
                f"; under load +{format_duration(figures['latency_increase_s'])}, "
                f"{figures.get('responsiveness_rpm') or 0:.0f} RPM"
            )
    elif isinstance(m.result, ThroughputResult):
        detail = f"{m.result.direction} {format_rate(figures['goodput_bps'])}"
    elif isinstance(m.result, TimingResult):
        total = m.result.phases_s.get("total")
        detail = f"{m.result.outcome or ''} total {format_duration(total)}".strip()
    else:
        detail = ""
    if m.error:
        detail = f"{detail}; {m.error}" if detail else m.error
    cells = [job, m.collector, target, str(m.status)]
    return [*(neutralize(c, max_length=CELL_LIMIT) for c in cells), neutralize(detail, 1000)]


def table(measurements: Sequence[Measurement]) -> str:
    """A plain-text table, one row per record.

    Every cell comes from data (job names, targets, error texts from peers) and is
    neutralised (:func:`qos.text_safety.neutralize`): no escape sequence reaches the
    terminal and no newline splits a row.
    """
    header = ["job", "collector", "target", "status", "result"]
    rows = [header, *(_row(m) for m in measurements)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(lines)
