"""``qos-agent privacy [--config FILE]``: what this configuration stores and sends where.

See docs/privacy.md for the full statement per collector and exporter.
"""

from __future__ import annotations

import argparse

from qos_agent.commands.common import add_config_arguments, config_from_args
from qos_agent.privacy import report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "privacy", help="print what this configuration stores and sends where", description=__doc__
    )
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    print("\n".join(report(config)))
    return 0
