"""Arguments shared by several subcommands (config file, overrides, store path)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable

from qos.config import AgentConfig, JobConfig, load_config
from qos.errors import ConfigError
from qos.text_safety import safe_log_handler


def add_config_arguments(parser: argparse.ArgumentParser, *, positional: bool = False) -> None:
    if positional:
        parser.add_argument("config", help="agent config file (TOML)")
    else:
        parser.add_argument(
            "--config",
            "-c",
            default=None,
            help="agent config file (TOML); default: the embedded loopback-only "
            "config (configs/local.toml)",
        )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value (beats QOS_* environment and the file)",
    )
    parser.add_argument("--store", default=None, help="store path (same as --set store.path=…)")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """stderr logging whose messages are neutralised (:class:`qos.text_safety.SafeLogFormatter`)."""
    logging.basicConfig(
        level=getattr(logging, level), handlers=[safe_log_handler(sys.stderr, LOG_FORMAT)]
    )


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    configure_logging(args.log_level)
    return reload_config(args)


def reload_config(args: argparse.Namespace) -> AgentConfig:
    """Read the config the command line names (again, for SIGHUP): keys, types and units."""
    overrides: dict[str, str] = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(
                f"override '{item}' must look like SECTION.KEY=VALUE", file="command line"
            )
        overrides[key.strip()] = value
    if args.store:
        overrides["store.path"] = args.store
    return load_config(args.config, overrides=overrides)


def validated_config_from_args(
    args: argparse.Namespace, extra_jobs: Iterable[JobConfig] = (), *, isolated: bool = False
) -> AgentConfig:
    """The config, through the one complete validation that ``check-config`` runs too;
    ``isolated``: in a child process, so the caller does not import every collector."""
    from qos_agent.validation import validate_config, validate_in_child

    check = validate_in_child if isolated else validate_config
    return check(config_from_args(args), extra_jobs)
