"""``qos-agent prune --older-than 90d``: delete old measurements and shrink the store.

Records an exporter of this config has not delivered yet are kept unless ``--force``; the
freed pages go back to the file system (incremental vacuum), so the file shrinks.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from qos.records import utc_now
from qos.store import SqliteStore
from qos.units import parse_duration_s
from qos_agent.commands.common import add_config_arguments, config_from_args
from qos_agent.retention import durable_exporter_names, protected_mid, prune


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prune",
        help="delete measurements older than a duration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--older-than", required=True, help='e.g. "90d" or "12h"')
    parser.add_argument(
        "--force",
        action="store_true",
        help="also delete records an exporter has not delivered yet",
    )
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    cutoff = utc_now() - timedelta(seconds=parse_duration_s(args.older_than))
    path = config.store.resolved_path()
    with SqliteStore(path, create=False) as store:
        before = path.stat().st_size
        names = durable_exporter_names(config)
        keep_from = None if args.force else protected_mid(store, names)
        removed = prune(store, cutoff, up_to_mid=keep_from)
        kept = 0
        if keep_from is not None:
            kept = sum(1 for _ in store.iter_measurements(until=cutoff))
        after = path.stat().st_size
    print(
        f"removed {removed} measurements started before {cutoff.isoformat()}; "
        f"file {before} → {after} bytes"
    )
    if kept:
        print(f"kept {kept} older measurements not yet delivered by exporters ({', '.join(names)})")
    return 0
