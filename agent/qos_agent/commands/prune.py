"""``qos-agent prune --older-than 90d``: delete old measurements from the store."""

from __future__ import annotations

import argparse
from datetime import timedelta

from qos.records import utc_now
from qos.store import SqliteStore
from qos.units import parse_duration_s
from qos_agent.commands.common import add_config_arguments, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prune", help="delete measurements older than a duration")
    parser.add_argument("--older-than", required=True, help='e.g. "90d" or "12h"')
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    cutoff = utc_now() - timedelta(seconds=parse_duration_s(args.older_than))
    with SqliteStore(config.store.resolved_path(), create=False) as store:
        removed = store.prune(cutoff)
    print(f"removed {removed} measurements started before {cutoff.isoformat()}")
    return 0
