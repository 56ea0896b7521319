"""The embedded SQLite store (docs/architecture.md §2.3).

Design:

* **WAL mode** with ``synchronous=FULL``: a measurement whose ``append`` returned is durable
  even if the process is SIGKILLed or the machine loses power right after; readers
  (notebooks, ``qos score``) never block the agent's writer.
* **One transaction per measurement**: the envelope, its probes and its intervals commit
  together or not at all.
* **Per-probe samples in their own table** (``probes``, ``WITHOUT ROWID`` keyed by the
  measurement's integer key and sequence number), not JSON blobs, so millions of samples
  load with one ``SELECT``.  Throughput samples go to ``intervals``.
* **Schema version in ``PRAGMA user_version``**; :data:`qos.store.schema.MIGRATIONS` is
  the one upgrade path; a newer file is refused with :class:`~qos.errors.SchemaVersionError`.
* ``readonly=True`` opens with ``mode=ro`` for analysts while the agent writes.

Wall-clock start times are stored as integer microseconds since the Unix epoch, UTC.
The tables' columns and the export files are :mod:`qos.store.layout`; the SQLite layout
(DDL, migrations, time encoding) is :mod:`qos.store.schema`; the row ↔ record codec and the
export queries are :mod:`qos.store.rows`; column-wise reads are :mod:`qos.store.columns`.
Their public names are re-exported here, the import path analysts and tests have always used.
"""

from __future__ import annotations

import json
import math
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qos.errors import SchemaVersionError, StoreError
from qos.records import Measurement, RttResult, ThroughputResult
from qos.store.columns import StoreColumns, read_columns
from qos.store.rows import (
    export_query,
    interval_rows,
    measurement_values,
    probe_rows,
    row_to_measurement,
)
from qos.store.schema import (
    INTERVAL_COLUMNS,
    MEASUREMENT_COLUMNS,
    MIGRATIONS,
    PROBE_COLUMNS,
    STORE_SCHEMA_VERSION,
    from_epoch_us,
    to_epoch_us,
)

__all__ = [
    "INTERVAL_COLUMNS",
    "PROBE_COLUMNS",
    "STORE_SCHEMA_VERSION",
    "SqliteStore",
    "from_epoch_us",
    "to_epoch_us",
]


#: Every column of ``measurements`` but ``mid``, in the order of :func:`measurement_values`.
_INSERT_MEASUREMENT = (
    f"INSERT INTO measurements ({', '.join(MEASUREMENT_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' * len(MEASUREMENT_COLUMNS[1:]))})"
)


class SqliteStore:
    """SQLite measurement store; one writer (the agent), many readers."""

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        timeout_s: float = 30.0,
        create: bool = True,
    ) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"{self.path}: no such store")
                # Percent-encode: an unquoted '#' or '?' in the path would end the file
                # name and drop mode=ro, opening (and creating) another file read-write.
                uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
                self._conn = sqlite3.connect(
                    uri, uri=True, timeout=timeout_s, check_same_thread=False
                )
            else:
                if not self.path.exists() and not create:
                    raise StoreError(f"{self.path}: no such store")
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(
                    self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None
                )
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            if not readonly:
                # Refuse a newer or foreign file before touching it: journal_mode=WAL is
                # persistent and would change a file that we then refuse to use.
                self._refuse_unknown(self.schema_version)
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
                self._conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except BaseException as exc:
            if hasattr(self, "_conn"):  # a refused file must not stay open
                self._conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"{self.path}: cannot open store: {exc}") from exc
            raise

    # -- schema ----------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _refuse_unknown(self, version: int) -> None:
        if version > STORE_SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path}: store schema version {version} is newer than this qos-toolkit "
                f"supports ({STORE_SCHEMA_VERSION}); upgrade qos-toolkit to read it"
            )
        if version == 0 and self._has_foreign_tables():
            raise StoreError(f"{self.path}: not a qos-toolkit store (unknown tables)")

    def _migrate(self) -> None:
        version = self.schema_version
        self._refuse_unknown(version)
        if version == STORE_SCHEMA_VERSION:
            return
        if self.readonly:
            if version == 0:
                raise StoreError(f"{self.path}: not a qos-toolkit store (empty, user_version 0)")
            raise StoreError(
                f"{self.path}: store schema version {version} must be upgraded; open it once "
                "for writing (e.g. with qos-agent) to upgrade"
            )
        while version < STORE_SCHEMA_VERSION:
            step = MIGRATIONS[version]
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if version == 0 and self._has_foreign_tables():
                    raise StoreError(f"{self.path}: not a qos-toolkit store (unknown tables)")
                step(self._conn)
                version += 1
                self._conn.execute(f"PRAGMA user_version = {version}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _has_foreign_tables(self) -> bool:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        return bool(rows)

    # -- writing ---------------------------------------------------------------------------
    def register_agent(
        self, agent_id: str, *, timezone: str | None, labels: dict[str, str] | None = None
    ) -> None:
        """Record the agent's IANA time zone (for local-time windows such as peak hours)."""
        self._write(
            "INSERT INTO agents (agent_id, timezone, first_seen_us, labels_json) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET "
            "timezone = excluded.timezone, labels_json = excluded.labels_json",
            (agent_id, timezone, to_epoch_us(datetime.now(UTC)), json.dumps(labels or {})),
        )

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        self._ensure_writable()
        try:
            self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: write failed: {exc}") from exc

    def _rollback(self) -> None:
        """Roll back unless SQLite already did: after SQLITE_FULL or SQLITE_IOERR it may have
        rolled back itself, and a second ROLLBACK would replace the real error ("database or
        disk is full") with "cannot rollback - no transaction is active"."""
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _ensure_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path}: store was opened read-only")

    def append(self, measurement: Measurement) -> None:
        """Commit one measurement with its probes and intervals in one transaction."""
        self.append_many((measurement,))

    def append_many(self, measurements: Iterable[Measurement]) -> int:
        """Commit several measurements in one transaction (bulk import); returns the count."""
        self._ensure_writable()
        conn = self._conn
        count = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for m in measurements:
                    self._insert(m)
                    count += 1
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"{self.path}: measurement rejected: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot commit measurement: {exc}") from exc
        return count

    def _insert(self, m: Measurement) -> None:
        cursor = self._conn.execute(_INSERT_MEASUREMENT, measurement_values(m))
        mid = cursor.lastrowid
        if isinstance(m.result, RttResult) and m.result.probes:
            rows = probe_rows(mid, m.result.probes)
            # SQLite binds NaN as NULL, so a NaN RTT would read back as a *lost* probe.
            if any(isinstance(v, float) and math.isnan(v) for row in rows for v in row):
                raise StoreError(
                    f"{self.path}: measurement {m.id} has a NaN probe value; "
                    "a missing value must be None"
                )
            self._conn.executemany(
                f"INSERT INTO probes (mid, {', '.join(PROBE_COLUMNS)}) "
                f"VALUES (?{', ?' * len(PROBE_COLUMNS)})",
                rows,
            )
        if isinstance(m.result, ThroughputResult) and m.result.intervals:
            self._conn.executemany(
                f"INSERT INTO intervals (mid, {', '.join(INTERVAL_COLUMNS)}) "
                f"VALUES (?{', ?' * len(INTERVAL_COLUMNS)})",
                interval_rows(mid, m.result.intervals),
            )

    def prune(self, before: datetime) -> int:
        """Delete measurements started before ``before``; returns how many were removed."""
        self._ensure_writable()
        cutoff = to_epoch_us(before)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self._conn.execute("DELETE FROM measurements WHERE started_at_us < ?", (cutoff,))
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return cur.rowcount

    # -- reading ---------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])

    def ids(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT id FROM measurements")}

    def agents(self) -> dict[str, str | None]:
        """agent id → IANA time zone (None when unknown)."""
        return dict(self._conn.execute("SELECT agent_id, timezone FROM agents").fetchall())

    def integrity_check(self) -> str:
        """``"ok"`` when SQLite's full integrity check passes."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def get(self, measurement_id: str) -> Measurement:
        rows = list(self._select("WHERE id = ?", (measurement_id,)))
        if not rows:
            raise StoreError(f"{self.path}: no measurement with id {measurement_id}")
        return rows[0]

    def iter_measurements(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        collector: str | None = None,
        target: str | None = None,
    ) -> Iterator[Measurement]:
        """Measurements in start-time order, optionally filtered."""
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("started_at_us >= ?")
            params.append(to_epoch_us(since))
        if until is not None:
            clauses.append("started_at_us < ?")
            params.append(to_epoch_us(until))
        if collector is not None:
            clauses.append("collector = ?")
            params.append(collector)
        if target is not None:
            clauses.append("target = ?")
            params.append(target)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        yield from self._select(where, tuple(params))

    def _select(self, where: str, params: tuple[Any, ...]) -> Iterator[Measurement]:
        cursor = self._conn.execute(
            f"SELECT {', '.join(MEASUREMENT_COLUMNS)} "
            f"FROM measurements {where} ORDER BY started_at_us, mid",
            params,
        )
        for row in cursor.fetchall():
            yield row_to_measurement(self._conn, row)

    def read_columns(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        collector: str | None = None,
        target: str | None = None,
    ) -> StoreColumns:
        """Measurements (start in ``[since, until)``, optionally of one collector and
        target), their probes and intervals, and the agents, column-wise from one snapshot
        (:func:`qos.store.columns.read_columns`): the fast path for analysis loaders."""
        return read_columns(
            self._conn,
            since=since,
            until=until,
            collector=collector,
            target=target,
            source=str(self.path),
        )

    def export_rows(
        self,
        table: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """Raw rows of one table in the export layout (``measurement_id`` instead of ``mid``).

        ``table`` is ``measurements``, ``probes``, ``intervals`` or ``agents``; the time
        filter applies to the measurement's start.  Streams rows, so exports of millions of
        probes run in constant memory.
        """
        columns, sql, params = export_query(table, since=since, until=until)
        return columns, iter(self._conn.execute(sql, params))

    # -- lifecycle -------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Fold the WAL back into the main file (e.g. before copying the store)."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
