"""Spill files: records the store could not take, kept on disk until the next start.

When the agent stops with records still queued, or its in-memory queue is full, the records
are appended to ``qos-spill-<pid>-<time>.jsonl`` in ``[store] spill_dir`` (beside the store
by default) — one versioned JSON record per line, flushed and ``fsync``'d along with the
directory.  At the next start :func:`import_spills` stores them in one transaction, skipping
ids already stored, and only then deletes the file: each record lands exactly once even if
the import itself is interrupted.  If even the spill fails, the caller logs how many records
were lost and their ids.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from qos.durable import fsync_dir
from qos.errors import SerializationError
from qos.records import Measurement
from qos.serialization import dumps, loads
from qos.store import SqliteStore

log = logging.getLogger(__name__)

PATTERN = "qos-spill-*.jsonl"


def write_spill(directory: Path, records: Sequence[Measurement]) -> Path:
    """Append ``records`` durably to a new spill file; raises ``OSError`` on failure."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"qos-spill-{os.getpid()}-{time.time_ns()}.jsonl"
    payload = "".join(dumps(m) + "\n" for m in records).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _remove_quietly(path)
        raise
    os.close(fd)
    fsync_dir(directory)
    return path


def pending_spills(directory: Path) -> list[Path]:
    return sorted(directory.glob(PATTERN)) if directory.is_dir() else []


def import_spills(store: SqliteStore, directory: Path) -> int:
    """Store every record of every spill file once, then delete the files; returns the
    number of records newly stored.  Store errors propagate (the files stay for later)."""
    imported = 0
    for path in pending_spills(directory):
        records, damaged = _read(path)
        imported += store.append_many(records, skip_existing=True)
        if damaged:  # keep the unreadable lines for a human; never import them again
            os.replace(path, path.with_suffix(".rejected"))
        else:
            path.unlink()
        fsync_dir(directory)
        log.warning("imported %d records from spill file %s", len(records), path)
    return imported


def _read(path: Path) -> tuple[list[Measurement], bool]:
    records = []
    damaged = False
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(loads(line))
            except SerializationError as exc:  # e.g. a line cut short by a crash
                log.error("spill file %s line %d is unreadable, skipped: %s", path, number, exc)
                damaged = True
    return records, damaged


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
