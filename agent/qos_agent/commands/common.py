"""Arguments shared by several subcommands (config file, overrides, store path)."""

from __future__ import annotations

import argparse
import logging
import sys

from qos.config import AgentConfig, load_config
from qos.errors import ConfigError


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


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return reload_config(args)


def reload_config(args: argparse.Namespace) -> AgentConfig:
    """Read and validate the config the command line names (again, for SIGHUP)."""
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
