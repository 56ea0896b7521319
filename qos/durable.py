"""Crash-safe file writes: a file is either its old content or its new content, never half.

Every component that replaces a file (exports, the Parquet dataset, reports, the agent id,
state files, token stores, spill files) writes through here, so one recipe holds:

1. write a temporary sibling (same directory, so the rename cannot cross filesystems),
   created exclusively with the requested permission bits;
2. ``fsync`` it, so its data are on disk before its name is;
3. ``os.replace`` it over the target (POSIX ``rename(2)`` is atomic);
4. ``fsync`` the directory, so the new name itself survives a power loss.

Without step 2 a crash after the rename can leave an empty or truncated file under the
final name (ext4 ``data=ordered`` with delayed allocation, XFS); without step 4 the rename
can be lost.  Standard library only, and nothing heavier than :mod:`os` at import time,
because the agent's idle daemon imports it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

_SEQUENCE = itertools.count()


def fsync_dir(directory: Path) -> None:
    """Make a rename, a new file or a removal in ``directory`` durable."""
    _fsync(directory)


def fsync_file(path: Path) -> None:
    """Flush ``path``'s data to the device."""
    _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, fsyncing the parent of each folder
    created, so a new path survives a crash together with the file written into it."""
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir()
        except FileExistsError:
            continue  # another writer made it first: its parent is synced by that writer
        fsync_dir(created.parent)


def temporary_sibling(target: Path, mode: int = 0o644) -> Path:
    """Create and return an empty, exclusive temporary file beside ``target``.

    The name starts with a dot and ends in ``.tmp`` so directory scans can skip it; the
    process id and a counter keep concurrent writers in one directory apart.
    """
    while True:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{next(_SEQUENCE)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue  # left over by a crashed writer with a recycled process id
        os.close(fd)
        return tmp


def atomic_write(
    target: Path,
    write: Callable[[Path], object],
    *,
    mode: int = 0o644,
    make_parents: bool = False,
) -> None:
    """Have ``write`` fill a temporary sibling, then put it in place durably.

    ``mode`` applies to the new file (less the umask); ``make_parents`` creates missing
    folders durably first.  If ``write`` or any step fails, the temporary file is removed
    and ``target`` keeps its previous content (or stays absent).
    """
    if make_parents:
        make_dirs(target.parent)
    tmp = temporary_sibling(target, mode)
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(
    target: Path, data: bytes, *, mode: int = 0o644, make_parents: bool = False
) -> None:
    """Replace ``target`` with ``data`` (see :func:`atomic_write`)."""
    atomic_write(target, lambda tmp: tmp.write_bytes(data), mode=mode, make_parents=make_parents)


def atomic_write_text(
    target: Path, text: str, *, mode: int = 0o644, make_parents: bool = False
) -> None:
    """Replace ``target`` with ``text`` encoded as UTF-8 (see :func:`atomic_write`)."""
    atomic_write_bytes(target, text.encode("utf-8"), mode=mode, make_parents=make_parents)
