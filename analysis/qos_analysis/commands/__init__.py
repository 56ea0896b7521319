"""Subcommands of ``qos`` that live in their own modules; each has ``register(sub)``."""
