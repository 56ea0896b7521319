"""Subcommands of ``qos-agent``; each module has ``register(subparsers)``."""
