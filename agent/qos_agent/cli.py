"""``qos-agent``: the measurement agent's command line.

Each subcommand lives in its own module under :mod:`qos_agent.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func``.  Adding a command
is one module plus one line in :data:`_COMMAND_MODULES`.

Exit codes: 0 success; 1 the measurement ran but failed (``once`` with a non-ok status);
2 usage or configuration error (bad config, unknown collector or parameter).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qos.errors import QosError
from qos.text_safety import neutralize

_COMMAND_MODULES: tuple[str, ...] = (
    "qos_agent.commands.run",
    "qos_agent.commands.once",
    "qos_agent.commands.list_collectors",
    "qos_agent.commands.check_config",
    "qos_agent.commands.export",
    "qos_agent.commands.prune",
    "qos_agent.commands.reflector",
    "qos_agent.commands.server",
)

EXIT_OK = 0
EXIT_MEASUREMENT_FAILED = 1
EXIT_USAGE = 2
#: an error message is cut here (it may quote a value from the config or the data)
ERROR_LIMIT = 2000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qos-agent",
        description="Measure the quality of your Internet service and keep the evidence.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except QosError as exc:
        print(f"qos-agent: error: {neutralize(exc, max_length=ERROR_LIMIT)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
