"""``qos-agent list``: every collector, whether it can run here, and why not."""

from __future__ import annotations

import argparse
import json
from typing import Any, NotRequired, TypedDict

from qos.text_safety import neutralize
from qos_agent import collectors


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list", help="list collectors and whether each can run here")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--params", action="store_true", help="also list each collector's parameters"
    )
    parser.set_defaults(func=run)


class ParamRow(TypedDict):
    """One collector parameter as listed (``default`` is whatever the spec declares)."""

    name: str
    kind: str
    default: Any  # a parameter's default is of its own kind: int, float, str, bool or None
    help: str


class CollectorRow(TypedDict):
    """One row of ``qos-agent list`` (also its JSON output)."""

    name: str
    can_run: bool
    reasons: list[str]
    description: str
    heavy: NotRequired[bool]  # unknown when the collector cannot be loaded
    params: list[ParamRow]


def describe() -> list[CollectorRow]:
    rows: list[CollectorRow] = []
    for name in collectors.names():
        try:
            collector = collectors.get(name)
        except ImportError as exc:
            rows.append(
                {
                    "name": name,
                    "can_run": False,
                    "reasons": [f"cannot load: {exc}"],
                    "description": "",
                    "params": [],
                }
            )
            continue
        reasons = collector.check()
        rows.append(
            {
                "name": name,
                "can_run": not reasons,
                "reasons": reasons,
                "description": collector.description,
                "heavy": collector.heavy,
                "params": [
                    {"name": p.name, "kind": p.kind, "default": p.default, "help": p.help}
                    for p in collector.param_specs
                ],
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "yes" if r["can_run"] else "no "
        _say(f"{r['name'].ljust(width)}  {state}  {r['description']}")
        if r["reasons"]:
            _say(f"{'':{width}}       cannot run: " + "; ".join(map(str, r["reasons"])))
        if args.params:
            for p in r["params"]:
                _say(
                    f"{'':{width}}       --param {p['name']}=… ({p['kind']}, default "
                    f"{p['default']!r}): {p['help']}"
                )
    return 0


def _say(line: str) -> None:
    """One output line, neutralised: reasons quote the host (paths, error texts)."""
    print(neutralize(line, max_length=2000))
