"""SQLite store layout: DDL, migrations, column lists, time encoding (docs/architecture.md §2.3).

One definition of the file layout, shared by the store (:mod:`qos.store.sqlite`), the row
codec (:mod:`qos.store.rows`) and the column reader (:mod:`qos.store.columns`).  The column
lists come from :mod:`qos.store.layout`; the DDL of a released version never changes (a new
layout is a new migration).

* The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS` is the one
  upgrade path (user_version before → step bringing the file to the next version).
* Wall-clock start times are stored as integer microseconds since the Unix epoch, UTC
  (:func:`to_epoch_us`, :func:`from_epoch_us`), so ordering and range filters are exact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from qos.store.layout import INTERVAL_COLUMNS, MEASUREMENTS, PROBE_COLUMNS

STORE_SCHEMA_VERSION = 2

__all__ = [
    "INTERVAL_COLUMNS",
    "MEASUREMENT_COLUMNS",
    "MIGRATIONS",
    "PROBE_COLUMNS",
    "STORE_SCHEMA_VERSION",
    "from_epoch_us",
    "to_epoch_us",
]

_SCHEMA_V1 = """
CREATE TABLE measurements (
    mid             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    agent_id        TEXT    NOT NULL,
    collector       TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    started_at_us   INTEGER NOT NULL,
    duration_s      REAL    NOT NULL,
    status          TEXT    NOT NULL,
    error           TEXT,
    kind            TEXT,
    schema_version  INTEGER NOT NULL,
    params_json     TEXT    NOT NULL,
    labels_json     TEXT    NOT NULL,
    result_json     TEXT
);
CREATE INDEX measurements_time ON measurements (started_at_us);
CREATE INDEX measurements_target_time ON measurements (target, started_at_us);
CREATE INDEX measurements_collector_time ON measurements (collector, started_at_us);
CREATE INDEX measurements_agent_time ON measurements (agent_id, started_at_us);

CREATE TABLE probes (
    mid                    INTEGER NOT NULL REFERENCES measurements (mid) ON DELETE CASCADE,
    seq                    INTEGER NOT NULL,
    send_offset_s          REAL    NOT NULL,
    rtt_s                  REAL,
    ttl                    INTEGER,
    duplicates             INTEGER NOT NULL DEFAULT 0,
    size_bytes             INTEGER,
    forward_delay_s        REAL,
    backward_delay_s       REAL,
    reflector_residence_s  REAL,
    lost_direction         TEXT,
    one_way_valid          INTEGER,
    reflector_ttl          INTEGER,
    PRIMARY KEY (mid, seq)
) WITHOUT ROWID;

CREATE TABLE intervals (
    mid             INTEGER NOT NULL REFERENCES measurements (mid) ON DELETE CASCADE,
    stream          INTEGER NOT NULL,
    start_offset_s  REAL    NOT NULL,
    duration_s      REAL    NOT NULL,
    bytes           INTEGER NOT NULL,
    warmup          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mid, stream, start_offset_s)
) WITHOUT ROWID;

CREATE TABLE agents (
    agent_id        TEXT PRIMARY KEY,
    timezone        TEXT,
    first_seen_us   INTEGER NOT NULL,
    labels_json     TEXT NOT NULL DEFAULT '{}'
);
"""


def _create_v1(conn: sqlite3.Connection) -> None:
    # executescript() would COMMIT the open migration transaction; run statements singly.
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            conn.execute(statement)


_SCHEMA_V2 = """
CREATE TABLE exporter_cursors (
    name        TEXT PRIMARY KEY,
    mid         INTEGER NOT NULL,
    updated_us  INTEGER NOT NULL
);

CREATE TABLE events (
    eid          INTEGER PRIMARY KEY,
    at_us        INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    detail_json  TEXT    NOT NULL
);
CREATE INDEX events_time ON events (at_us);
"""


def _upgrade_v1_to_v2(conn: sqlite3.Connection) -> None:
    """Exporter delivery cursors (the last ``mid`` each named exporter has delivered) and
    agent events (clock steps, collectors cut off at their deadline, spilled records)."""
    for statement in _SCHEMA_V2.split(";"):
        if statement.strip():
            conn.execute(statement)


#: user_version before → function bringing the file to the next version.  Version 0 is
#: an empty file.  Add ``2: _upgrade_v2_to_v3`` here when the layout changes.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _create_v1,
    1: _upgrade_v1_to_v2,
}

#: Column order of the ``measurements`` SELECT that :func:`qos.store.rows.row_to_measurement`
#: decodes (``mid`` is the integer key the probes and intervals refer to).
MEASUREMENT_COLUMNS = ("mid", *(c.store_name for c in MEASUREMENTS.columns))


def to_epoch_us(moment: datetime) -> int:
    """Wall-clock instant → integer microseconds since the Unix epoch, UTC (exact)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    """Inverse of :func:`to_epoch_us`: an aware UTC datetime."""
    seconds, micros = divmod(int(value), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
