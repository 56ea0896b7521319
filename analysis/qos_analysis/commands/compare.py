"""``qos compare --data DATASET --by GROUP``: panel views with named significance tests."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qos.errors import QosError
from qos.text_safety import neutralize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from qos_analysis.panel.compare import GROUPINGS

    p = sub.add_parser(
        "compare",
        help="compare groups of panellists (speed bands, 80/80, peak loss, latency)",
        description="Panel views by operator, region, plan, technology or agent, with "
        "pairwise tests (two-proportion z or Fisher exact; Mann-Whitney U and a bootstrap CI) "
        "and Holm correction. Group attributes come from the agents metadata table.",
    )
    p.add_argument("--data", required=True, action="append", help="dataset or other source")
    p.add_argument("--by", required=True, choices=GROUPINGS)
    p.add_argument(
        "--agents", type=Path, help="agents metadata (.csv/.parquet); default DATASET/agents.csv"
    )
    p.add_argument("--peak", default="19-23", help="peak hours, local time, START-END (19-23)")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--figures", type=Path, help="write one PNG per view into this folder")
    from qos_analysis.cli import add_engine_options

    add_engine_options(p)
    p.set_defaults(func=run)


def _peak(text: str):  # type: ignore[no-untyped-def]
    from qos_analysis.panel.panellists import PeakHours

    start, sep, end = text.partition("-")
    if not sep or not start.isdigit() or not end.isdigit() or not 0 <= int(start) < int(end) <= 24:
        raise QosError(f"--peak expects START-END hours such as 19-23, got {text!r}")
    return PeakHours(int(start), int(end))


def run(args: argparse.Namespace) -> int:
    from qos_analysis.engine import panel_units
    from qos_analysis.panel.compare import compare
    from qos_analysis.panel.metadata import find_metadata, read_metadata

    if not 0 < args.confidence < 1:
        raise QosError("--confidence must lie strictly between 0 and 1")
    peak = _peak(args.peak)
    meta_path = args.agents or find_metadata(Path(args.data[0]))
    if meta_path is None:
        raise QosError("no agents metadata table: give --agents FILE (agents.csv)")
    meta = read_metadata(meta_path)
    if args.by != "agent" and args.by not in meta.columns:
        raise QosError(f"{meta_path}: no column {args.by!r} to group by")
    units = panel_units(args.data, meta, peak, engine=args.engine, scheduler=args.scheduler).merge(
        meta, on="agent_id"
    )
    units["agent"] = units["agent_id"]
    result = compare(units, args.by, args.confidence)
    _print(result, args.format)
    if args.figures:
        from qos_analysis.panel.figures import write_figures

        for path in write_figures(result, args.figures):
            print(f"figure: {path}", file=sys.stderr)
    return 0


def _print(result, fmt: str) -> None:  # type: ignore[no-untyped-def]
    if fmt == "json":
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        from qos_analysis.csv_safety import protect_formula_cells

        frame = result.groups.assign(section="group")
        pairs = result.pairs.assign(section="pair")
        protect_formula_cells(frame).to_csv(sys.stdout, index=False)
        print()
        protect_formula_cells(pairs).to_csv(sys.stdout, index=False)
        return
    for view, rows in result.groups.groupby("view", sort=False):
        print(f"== {view} by {result.by}")
        for r in rows.itertuples():
            ci = "" if r.ci_low != r.ci_low else f"  [{r.ci_low:.4g}, {r.ci_high:.4g}]"
            note = f"  ({r.note})" if r.note else ""
            print(
                f"  {neutralize(r.group, 40):<20} {r.statistic:<24} {r.value:.4g}{ci}  "
                f"n={r.n}{note}"
            )
        for r in result.pairs[result.pairs["view"] == view].itertuples():
            extra = (
                ""
                if r.diff_ci_low != r.diff_ci_low
                else (f"  diff CI [{r.diff_ci_low:.4g}, {r.diff_ci_high:.4g}]")
            )
            print(
                f"  {neutralize(r.group_a, 20)} vs {neutralize(r.group_b, 20)}: {r.statistic} "
                f"{r.a:.4g} vs {r.b:.4g}; {r.test}: p={r.p:.3g}, Holm p={r.p_holm:.3g}{extra}"
            )
