"""``qos-agent``: the measurement agent's command line.

Each subcommand lives in its own module under :mod:`qos_agent.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func``.  Adding a command
is one module plus one line in :data:`_COMMANDS`.

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

#: command name → module; a module is imported only when its command is used (or for
#: ``--help``), so the daemon does not carry the reflector, the server or the exporters.
_COMMANDS: dict[str, str] = {
    "run": "qos_agent.commands.run",
    "once": "qos_agent.commands.once",
    "list": "qos_agent.commands.list_collectors",
    "check-config": "qos_agent.commands.check_config",
    "export": "qos_agent.commands.export",
    "prune": "qos_agent.commands.prune",
    "privacy": "qos_agent.commands.privacy",
    "reflector": "qos_agent.commands.reflector",
    "server": "qos_agent.commands.server",
}
_COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(_COMMANDS.values()))

EXIT_OK = 0
EXIT_MEASUREMENT_FAILED = 1
EXIT_USAGE = 2
#: an error message is cut here (it may quote a value from the config or the data)
ERROR_LIMIT = 2000


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one with just that command's module imported."""
    parser = argparse.ArgumentParser(
        prog="qos-agent",
        description="Measure the quality of your Internet service and keep the evidence.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [_COMMANDS[only]] if only in _COMMANDS else _COMMAND_MODULES
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = arguments[0] if arguments else None
    parser = build_parser(first if first in _COMMANDS else None)
    args = parser.parse_args(arguments)
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
