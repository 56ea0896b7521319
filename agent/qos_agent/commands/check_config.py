"""``qos-agent check-config FILE``: validate a config without measuring anything.

Checks every key and unit, that each job's collector exists and its parameters are valid,
and that reference targets name known services.  Exit 0 when valid, 2 otherwise with the
file, the key and a hint.
"""

from __future__ import annotations

import argparse

from qos.errors import ConfigError, QosError
from qos.suggest import unknown_name_hint
from qos_agent import collectors
from qos_agent.commands.common import add_config_arguments, config_from_args
from qos_agent.reference import PREFIX, service_names


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
    config = config_from_args(args)
    for index, job in enumerate(config.jobs):
        where = f"jobs[{index}] ({job.name})"
        try:
            collector = collectors.get(job.collector)
        except QosError as exc:
            raise ConfigError(str(exc), file=config.source, key=f"{where}.collector") from None
        try:
            collector.resolve(job.params)
        except QosError as exc:
            raise ConfigError(str(exc), file=config.source, key=f"{where}.params") from None
        if job.target.startswith(PREFIX):
            service = job.target[len(PREFIX) :]
            if service not in service_names():
                raise ConfigError(
                    f"unknown reference service '{service}'",
                    file=config.source,
                    key=f"{where}.target",
                    hint=unknown_name_hint(service, service_names()),
                )
    for index, stream in enumerate(config.streams):
        try:
            collectors.get(stream.collector)
        except QosError as exc:
            raise ConfigError(
                str(exc), file=config.source, key=f"streams[{index}].collector"
            ) from None
    print(
        f"{config.source}: ok ({len(config.jobs)} jobs, {len(config.streams)} streams, "
        f"{len(config.exporters)} exporters)"
    )
    return 0
