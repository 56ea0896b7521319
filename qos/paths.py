"""Where the toolkit keeps its files by default (XDG Base Directory Specification)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_DIR = "qos-toolkit"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/qos-toolkit`` or ``~/.local/share/qos-toolkit``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base).expanduser() / APP_DIR


def default_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """The embedded default store: ``<data dir>/measurements.sqlite``."""
    return data_dir(environ) / "measurements.sqlite"


STORE_PATH_VARIABLE = "QOS_STORE_PATH"


def store_path(environ: Mapping[str, str] | None = None) -> Path:
    """The store the agent writes when no config file names one: ``$QOS_STORE_PATH`` if
    set (the agent's environment override of ``[store] path``), else
    :func:`default_store_path`.  ``qos score`` and ``qos report`` read the same file."""
    env = os.environ if environ is None else environ
    given = env.get(STORE_PATH_VARIABLE, "").strip()
    return Path(given).expanduser() if given else default_store_path(env)
