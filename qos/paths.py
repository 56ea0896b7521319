"""Where the toolkit keeps its files by default (XDG Base Directory Specification)."""

from __future__ import annotations

import errno
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


def writable_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be opened for appending (None: it can), leaving no trace.

    Tried for real rather than with ``os.access`` (which says yes to root on files it
    cannot write, such as those under ``/proc``): an existing file is opened for appending
    and closed; otherwise an anonymous temporary file is made in the nearest existing
    ancestor directory (missing directories below it would be created).
    """
    if "\0" in str(path):
        return "a path cannot contain a NUL character"
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{path} is a loop of symbolic links"
    if path.is_dir():
        return f"{path} is a directory, not a file"
    try:
        if path.exists():
            with path.open("ab"):
                return None
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"{ancestor} is not a directory"
        import tempfile  # here, not at import: it pulls in shutil, bz2 and lzma (≈ 1 MB)

        with tempfile.TemporaryFile(dir=ancestor):
            return None
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
