"""``qos-agent once COLLECTOR TARGET [--param k=v …] [--json]``: one measurement, stored.

Exit status: 0 when the measurement's status is ``ok``, 1 when it ran but failed
(timeout, unreachable, error, skipped), 2 for a usage error (unknown collector or
parameter, bad config).
"""

from __future__ import annotations

import argparse
import json

from qos.config import JobConfig
from qos.errors import ParameterError
from qos.serialization import measurement_to_dict
from qos_agent.commands.common import add_config_arguments, validated_config_from_args
from qos_agent.runtime import AgentRuntime
from qos_agent.summary import summarize, table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "once",
        help="run one measurement now and store it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("collector", help="collector name (see 'qos-agent list')")
    parser.add_argument("target", help="target, e.g. 127.0.0.1 or HOST:PORT or @reference/tcp")
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="collector parameter, e.g. count=200 or interval=10ms",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the full record (every probe) and its summary as JSON",
    )
    parser.add_argument("--no-store", action="store_true", help="do not store the record")
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--param '{item}' must look like KEY=VALUE")
        params[key.strip()] = value.strip()
    return params


def run(args: argparse.Namespace) -> int:
    job = JobConfig(
        name="once", collector=args.collector, target=args.target, params=parse_params(args.param)
    )
    config = validated_config_from_args(args, [job])
    runtime = AgentRuntime(config)
    try:
        measurement = runtime.run_job(job)
        if not args.no_store:
            runtime.commit(measurement)
    finally:
        runtime.close()
    if args.json:
        document = measurement_to_dict(measurement)
        document["summary"] = summarize(measurement)
        print(json.dumps(document, indent=2, allow_nan=False, default=str))
    else:
        print(table([measurement]))
    return 0 if measurement.ok else 1
