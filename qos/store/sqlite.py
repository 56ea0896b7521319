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
* **A full disk is survivable.**  The write-ahead log is checkpointed every
  :data:`WAL_AUTOCHECKPOINT_PAGES` pages and truncated back to :data:`WAL_SIZE_LIMIT` bytes,
  and a write that fails with ``SQLITE_FULL`` first folds the WAL into the main file
  (``wal_checkpoint(TRUNCATE)``) and retries once.  Without this, SQLite's default
  auto-checkpoint (1000 pages, 4 MB) is larger than a small device's free space: every
  commit appends fresh copies of the same index pages to a WAL that is never reset, so the
  records drained after space returns refill the disk with page copies and the same
  record fails again and again.  Errors are classified (:class:`~qos.errors.StoreFullError`,
  :class:`~qos.errors.StoreBusyError`, :class:`~qos.errors.DuplicateRecordError`) so the
  agent can queue, back off or skip.
* **Retention**: new files use ``auto_vacuum = INCREMENTAL`` so :meth:`SqliteStore.shrink`
  returns freed pages to the file system; exporter delivery cursors (``exporter_cursors``)
  let :meth:`SqliteStore.prune` keep what an exporter has not delivered.

Wall-clock start times are stored as integer microseconds since the Unix epoch, UTC.
The tables' columns and the export files are :mod:`qos.store.layout`; the SQLite layout
(DDL, migrations, time encoding) is :mod:`qos.store.schema`; the row ↔ record codec and the
export queries are :mod:`qos.store.rows`; column-wise reads are :mod:`qos.store.columns`.
Their public names are re-exported here, the import path analysts and tests have always used.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qos.errors import (
    DuplicateRecordError,
    SchemaVersionError,
    StoreBusyError,
    StoreError,
    StoreFullError,
)
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

#: WAL pages between automatic checkpoints (SQLite's default is 1000 pages, 4 MB).
WAL_AUTOCHECKPOINT_PAGES = 256
#: size the WAL file is truncated back to after a checkpoint, in bytes
WAL_SIZE_LIMIT = 1 << 20


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
        self._timeout_s = timeout_s
        self._open(create=create)

    def _open(self, *, create: bool) -> None:
        """Connect, set the connection's pragmas and bring the schema up to date."""
        timeout_s = self._timeout_s
        readonly = self.readonly
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
                self._conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
                self._conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            self._migrate()
        except BaseException as exc:
            if hasattr(self, "_conn"):  # a refused file must not stay open
                self._conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
                    # e.g. no room for the -wal/-shm files a WAL store needs to open
                    raise StoreFullError(f"{self.path}: cannot open store: {exc}") from exc
                if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise StoreBusyError(f"{self.path}: cannot open store: {exc}") from exc
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
        if version == 0:
            # only possible before the first table exists; lets shrink() free pages
            self._conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
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

    def append(self, measurement: Measurement) -> int:
        """Commit one measurement with its probes and intervals in one transaction.

        Returns its integer key (``mid``), the order exporters deliver in.
        """
        return self._commit_with_relief(lambda: self._insert(measurement))

    def append_many(
        self, measurements: Iterable[Measurement], *, skip_existing: bool = False
    ) -> int:
        """Commit several measurements in one transaction (bulk import); returns how many
        were inserted.  ``skip_existing`` skips ids already stored (re-import is a no-op)."""
        batch = list(measurements)

        def insert_all() -> int:
            count = 0
            for m in batch:
                if skip_existing and self._has_id(m.id):
                    continue
                self._insert(m)
                count += 1
            return count

        return self._commit_with_relief(insert_all)

    def _has_id(self, measurement_id: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM measurements WHERE id = ?", (measurement_id,))
        return row.fetchone() is not None

    def _commit_with_relief(self, body: Callable[[], int]) -> int:
        """Run ``body`` in one write transaction; on a full disk, checkpoint and retry once."""
        try:
            return self._transaction(body)
        except StoreFullError:
            if not self.relieve_wal():
                raise
        return self._transaction(body)

    def _transaction(self, body: Callable[[], int]) -> int:
        self._ensure_writable()
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body()
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            raise self._classify(exc) from exc
        return result

    def _classify(self, exc: sqlite3.Error) -> StoreError:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code == sqlite3.SQLITE_FULL:
            return StoreFullError(f"{self.path}: cannot commit measurement: {exc}")
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreBusyError(f"{self.path}: store is locked by another connection: {exc}")
        if isinstance(exc, sqlite3.IntegrityError):
            if "measurements.id" in str(exc):
                return DuplicateRecordError(
                    f"{self.path}: measurement rejected (already stored): {exc}"
                )
            return StoreError(f"{self.path}: measurement rejected: {exc}")
        return StoreError(f"{self.path}: cannot commit measurement: {exc}")

    def relieve_wal(self) -> bool:
        """Fold the WAL into the main file and truncate it; True when it was fully reset.

        Called after ``SQLITE_FULL``: the WAL holds a fresh copy of every page each commit
        touched, so resetting it frees far more than the checkpoint adds to the main file.
        A reader holding an old snapshot keeps the WAL from being reset (False).
        """
        try:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        return bool(busy == 0)

    def _insert(self, m: Measurement) -> int:
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
        return int(mid or 0)

    def prune(self, before: datetime, *, up_to_mid: int | None = None) -> int:
        """Delete measurements started before ``before``; returns how many were removed.

        ``up_to_mid`` keeps every measurement with a larger key (what some exporter has not
        delivered yet).  Delivery cursors beyond the largest remaining key are clamped to
        it, so keys reused after a forced prune are never mistaken for delivered ones.
        """
        cutoff = to_epoch_us(before)
        limit = up_to_mid if up_to_mid is not None else (1 << 62)

        def delete() -> int:
            cur = self._conn.execute(
                "DELETE FROM measurements WHERE started_at_us < ? AND mid <= ?", (cutoff, limit)
            )
            self._conn.execute(
                "UPDATE exporter_cursors SET mid = (SELECT COALESCE(MAX(mid), 0) "
                "FROM measurements) WHERE mid > (SELECT COALESCE(MAX(mid), 0) FROM measurements)"
            )
            return int(cur.rowcount)

        return self._transaction(delete)

    def oldest_first(self, limit: int, *, up_to_mid: int) -> datetime | None:
        """A cut-off just after the ``limit`` oldest measurements keyed ≤ ``up_to_mid`` (fewer
        if there are fewer); None when there is none (for size caps)."""
        row = self._conn.execute(
            "SELECT MAX(started_at_us) FROM (SELECT started_at_us FROM measurements "
            "WHERE mid <= ? ORDER BY started_at_us LIMIT ?)",
            (up_to_mid, max(1, limit)),
        ).fetchone()
        return None if row is None or row[0] is None else from_epoch_us(row[0] + 1)

    def shrink(self) -> None:
        """Return free pages to the file system (incremental vacuum, then truncate the WAL).

        Stores created before ``auto_vacuum = INCREMENTAL`` existed are converted once by a
        full ``VACUUM`` (which needs free space about the size of the store).
        """
        self._ensure_writable()
        try:
            if self._conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                self._conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                self._conn.execute("VACUUM")
            else:
                self._conn.execute("PRAGMA incremental_vacuum").fetchall()
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            raise self._classify(exc) from exc

    def size_bytes(self) -> int:
        """Bytes the store's pages hold (file size minus free pages), WAL excluded."""
        page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int(page_size * (pages - free))

    # -- delivery cursors and events ----------------------------------------------------------
    def max_mid(self) -> int:
        return int(
            self._conn.execute("SELECT COALESCE(MAX(mid), 0) FROM measurements").fetchone()[0]
        )

    def cursors(self) -> dict[str, int]:
        """Exporter name → the last ``mid`` it delivered."""
        return dict(self._conn.execute("SELECT name, mid FROM exporter_cursors").fetchall())

    def set_cursor(self, name: str, mid: int) -> None:
        now = to_epoch_us(datetime.now(UTC))

        def upsert() -> int:
            self._conn.execute(
                "INSERT INTO exporter_cursors (name, mid, updated_us) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET mid = excluded.mid, "
                "updated_us = excluded.updated_us",
                (name, mid, now),
            )
            return 0

        self._transaction(upsert)

    def after(self, mid: int, *, limit: int = 100) -> list[tuple[int, Measurement]]:
        """Up to ``limit`` measurements with a key above ``mid``, in key (delivery) order."""
        rows = self._conn.execute(
            f"SELECT {', '.join(MEASUREMENT_COLUMNS)} FROM measurements "
            "WHERE mid > ? ORDER BY mid LIMIT ?",
            (mid, limit),
        ).fetchall()
        return [(row[0], row_to_measurement(self._conn, row)) for row in rows]

    def add_event(self, kind: str, detail: dict[str, Any], *, at: datetime | None = None) -> None:
        """Record an agent event (clock step, collector cut off, records spilled or lost)."""
        moment = to_epoch_us(at or datetime.now(UTC))
        payload = json.dumps(detail, default=str)

        def insert() -> int:
            self._conn.execute(
                "INSERT INTO events (at_us, kind, detail_json) VALUES (?, ?, ?)",
                (moment, kind, payload),
            )
            return 0

        self._transaction(insert)

    def events(self, kind: str | None = None) -> list[tuple[datetime, str, dict[str, Any]]]:
        sql = "SELECT at_us, kind, detail_json FROM events"
        params: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        rows = self._conn.execute(sql + " ORDER BY eid", params).fetchall()
        return [(from_epoch_us(a), k, json.loads(d)) for a, k, d in rows]

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

    def release_memory(self) -> None:
        """Give back the connection's page cache (SQLite ``PRAGMA shrink_memory``): a
        long-lived writer that stores a large record now and then need not keep up to the
        cache size (2 MB by default) resident in between."""
        with contextlib.suppress(sqlite3.Error):  # only memory: the store stays usable
            self._conn.execute("PRAGMA shrink_memory")

    def close(self) -> None:
        self._conn.close()

    def reopen(self) -> None:
        """Connect again after :meth:`close`.

        A process that forks closes its connection first and reopens it afterwards: a child
        must not inherit an open SQLite connection nor SQLite's per-process bookkeeping of
        the file's locks (https://www.sqlite.org/howtocorrupt.html §2.6), so that it can open
        a connection of its own.
        """
        self._open(create=False)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
