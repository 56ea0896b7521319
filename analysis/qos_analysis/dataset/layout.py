"""Paths of the partitioned dataset (files are written with :mod:`qos.durable`).

Agent ids come from the network or from files, so they are percent-encoded before they
become a path segment (``/``, ``..`` and control characters cannot escape the dataset);
Hive partitioning readers (pyarrow, DuckDB, Dask) decode ``%XX`` segments back.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

from qos.durable import atomic_write
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
    atomic_write(
        marker,
        lambda tmp: tmp.write_text(json.dumps({"layout": LAYOUT_VERSION})),
        make_parents=True,
    )
