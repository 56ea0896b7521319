"""``qos synth --agents N --days D --out DATASET [--seed S]``: write a synthetic panel."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from qos_analysis.panel.synth import SynthConfig, synthesize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic panel dataset (operators, plans, diurnal load, outages, churn)",
        description="Write a synthetic panel into a partitioned dataset with its agents.csv "
        "metadata; the model and its parameters are described in qos_analysis.panel.synth.",
    )
    d = SynthConfig()
    p.add_argument("--agents", type=int, default=d.agents, help=f"panel size (default {d.agents})")
    p.add_argument("--days", type=int, default=d.days, help=f"days (default {d.days})")
    p.add_argument("--out", required=True, type=Path, help="dataset directory")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")
    p.add_argument("--start", type=date.fromisoformat, default=d.start, help="first UTC day")
    p.add_argument(
        "--probes-per-test",
        type=int,
        default=d.probes_per_test,
        help=f"ICMP probes per hourly test (default {d.probes_per_test})",
    )
    p.add_argument("--speed-tests-per-day", type=int, default=d.speed_tests_per_day)
    p.add_argument("--outage-probability", type=float, default=d.outage_probability)
    p.add_argument("--churn", type=float, default=d.churn)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = SynthConfig(
        agents=args.agents,
        days=args.days,
        seed=args.seed,
        start=args.start,
        probes_per_test=args.probes_per_test,
        speed_tests_per_day=args.speed_tests_per_day,
        outage_probability=args.outage_probability,
        churn=args.churn,
    )
    counts = synthesize(cfg, args.out)
    print(json.dumps({"dataset": str(args.out), **counts}))
    return 0
