"""Paths of the partitioned dataset and atomic file writes.

Agent ids come from the network or from files, so they are percent-encoded before they
become a path segment (``/``, ``..`` and control characters cannot escape the dataset);
Hive partitioning readers (pyarrow, DuckDB, Dask) decode ``%XX`` segments back.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

from qos.errors import StoreError

MARKER = "qos-dataset.json"
LAYOUT_VERSION = 1
METADATA_FILE = "agents.csv"


def agent_segment(agent_id: str) -> str:
    """``agent=<percent-encoded id>``: ``/`` and controls are encoded, and the ``agent=``
    prefix keeps ``.`` or ``..`` from naming a parent folder."""
    return f"agent={quote(agent_id, safe='-_')}"


def agent_from_segment(segment: str) -> str:
    return unquote(segment.partition("=")[2])


def partition_dir(root: Path, table: str, date: str, agent_id: str) -> Path:
    return root / table / f"date={date}" / agent_segment(agent_id)


def is_dataset(path: Path) -> bool:
    return (path / MARKER).is_file()


def ensure_dataset(root: Path) -> None:
    """Create the marker of an empty dataset, or check an existing one's layout version."""
    marker = root / MARKER
    if marker.is_file():
        try:
            version = json.loads(marker.read_text(encoding="utf-8")).get("layout")
        except (OSError, ValueError, AttributeError) as exc:
            raise StoreError(f"{marker}: unreadable dataset marker: {exc}") from None
        if version != LAYOUT_VERSION:
            raise StoreError(
                f"{marker}: dataset layout {version!r} is not the one this qos-toolkit "
                f"writes ({LAYOUT_VERSION})"
            )
        return
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(marker, lambda tmp: tmp.write_text(json.dumps({"layout": LAYOUT_VERSION})))


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """``write`` a temporary sibling, fsync it, rename it over ``target``, fsync the folder.

    After this returns the file survives a crash or power loss; before it, ``target`` is
    either absent or its previous content — never half written.
    """
    _durable_mkdir(target.parent)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _durable_mkdir(directory: Path) -> None:
    """Create ``directory`` and fsync the parent of every folder created, so a new
    partition's path survives a crash together with the file in it."""
    missing = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    directory.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)
