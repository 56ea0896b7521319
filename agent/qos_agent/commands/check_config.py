"""``qos-agent check-config FILE``: validate a config without measuring anything.

Runs the same complete validation as ``run``, ``once`` and a SIGHUP reload
(:mod:`qos_agent.validation`): every key and unit, each job's collector and parameters,
reference targets, streams, exporters, the store and the bind address.  Exit 0 when
valid, 2 otherwise with the file, the key and a hint.
"""

from __future__ import annotations

import argparse

from qos.text_safety import neutralize
from qos_agent.commands.common import add_config_arguments, validated_config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate a config file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser, positional=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = validated_config_from_args(args)
    print(
        f"{neutralize(config.source)}: ok ({len(config.jobs)} jobs, {len(config.streams)} "
        f"streams, {len(config.exporters)} exporters)"
    )
    return 0
