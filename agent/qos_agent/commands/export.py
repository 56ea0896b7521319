"""``qos-agent export --format parquet|csv|jsonl --output DIR``: copy the store out.

Opens the store read-only, so it is safe while the daemon writes.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from qos.errors import ConfigError
from qos.store import SqliteStore
from qos_agent.commands.common import add_config_arguments, config_from_args
from qos_agent.export import FORMATS, export_store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export the store to Parquet, CSV or JSONL", description=__doc__
    )
    parser.add_argument("--format", "-f", choices=FORMATS, default="parquet")
    parser.add_argument("--output", "-o", required=True, help="output directory")
    parser.add_argument("--since", default=None, help="ISO 8601 start (inclusive), UTC if naive")
    parser.add_argument("--until", default=None, help="ISO 8601 end (exclusive), UTC if naive")
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"'{text}' is not an ISO 8601 date/time", key=option) from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with SqliteStore(config.store.resolved_path(), readonly=True) as store:
        counts = export_store(
            store,
            Path(args.output),
            args.format,
            since=_when(args.since, "--since"),
            until=_when(args.until, "--until"),
        )
    summary = ", ".join(f"{table}: {n}" for table, n in counts.items())
    print(f"exported to {args.output} ({args.format}): {summary}")
    return 0
