"""Column-oriented reads of the SQLite store, for analysis (loads millions of probes).

:func:`read_columns` returns each table as columns rather than records, so an analysis
loader builds arrays without creating one :class:`~qos.records.ProbeSample` per row:

* every table is read with one SELECT, and all of them inside **one read transaction**, so
  the measurements, probes and intervals come from the same snapshot even while the agent
  commits new measurements (WAL readers see a fixed snapshot from their first read);
* a cheap ``COUNT()`` pass finds the columns that are entirely NULL (ICMP data leaves the
  STAMP columns empty) and returns them as :class:`NullColumn` without materialising
  millions of ``None``;
* a numeric column without NULLs comes back as an :class:`array.array` (``'q'`` or ``'d'``,
  so NumPy can wrap it without a copy); any other column is a list with ``None`` for NULL;
* probes and intervals carry ``measurement_index``, the row of their measurement in the
  measurements columns (the store's internal integer key is not exposed).

Column names and types are those of :mod:`qos.store.layout`; ``started_at`` is integer
microseconds since the Unix epoch, UTC.  Rows come in key order, which costs no sort:
measurements and agents as inserted, probes by (measurement, ``seq``), intervals by
(measurement, ``stream``, ``start_offset_s``).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, overload

from qos.errors import StoreError
from qos.store.layout import (
    AGENTS,
    FLOAT64,
    INT64,
    INTERVALS,
    MEASUREMENTS,
    NUMERIC_TYPES,
    PROBES,
    TIMESTAMP_US_UTC,
    Column,
    Table,
)
from qos.store.schema import to_epoch_us

#: Logical types returned as :class:`array.array` when the column holds no NULL.
_FLAT_TYPES = NUMERIC_TYPES | {TIMESTAMP_US_UTC}

#: Name of the column that points a probe or interval row at its measurement's row.
MEASUREMENT_INDEX = "measurement_index"


class NullColumn(Sequence[None]):
    """A column of ``length`` NULLs that takes no memory."""

    __slots__ = ("_length",)

    def __init__(self, length: int) -> None:
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> None: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[None, ...]: ...
    def __getitem__(self, index: int | slice) -> tuple[None, ...] | None:
        if isinstance(index, slice):
            return (None,) * len(range(*index.indices(self._length)))
        if not -self._length <= index < self._length:
            raise IndexError("NullColumn index out of range")
        return None

    def __iter__(self) -> Iterator[None]:
        return iter((None,) * self._length)

    def __repr__(self) -> str:
        return f"NullColumn({self._length})"


@dataclass(frozen=True)
class ColumnBlock:
    """One table read column-wise: ``length`` rows, column name → values.

    ``null_counts`` says how many values of each column are NULL, so a consumer can tell an
    entirely missing column (``null_counts[name] == length``) without scanning it.
    """

    length: int
    columns: Mapping[str, Sequence[Any]]
    null_counts: Mapping[str, int]

    def __getitem__(self, name: str) -> Sequence[Any]:
        return self.columns[name]

    def all_null(self, name: str) -> bool:
        return self.null_counts[name] == self.length


@dataclass(frozen=True)
class StoreColumns:
    """The tables of one snapshot of a store, column-wise (see the module docstring)."""

    measurements: ColumnBlock
    probes: ColumnBlock
    intervals: ColumnBlock
    agents: ColumnBlock


@dataclass(frozen=True)
class _Filter:
    """Which measurements to read: SQL ``WHERE`` clause on ``measurements`` and its params."""

    where: str
    params: tuple[Any, ...]

    @classmethod
    def of(
        cls,
        since: datetime | None,
        until: datetime | None,
        collector: str | None,
        target: str | None,
    ) -> _Filter:
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("started_at_us >= ?", None if since is None else to_epoch_us(since)),
            ("started_at_us < ?", None if until is None else to_epoch_us(until)),
            ("collector = ?", collector),
            ("target = ?", target),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return cls(("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params))


def read_columns(
    conn: sqlite3.Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    collector: str | None = None,
    target: str | None = None,
    source: str = "store",
) -> StoreColumns:
    """Read the measurements (start in ``[since, until)``, optionally of one collector and
    target) with their probes and intervals, and every agent, from one snapshot.

    ``source`` names the store in error messages; a SQLite failure is a
    :class:`~qos.errors.StoreError`.
    """
    selection = _Filter.of(since, until, collector, target)
    began = not conn.in_transaction
    try:
        if began:
            conn.execute("BEGIN")  # one snapshot for every SELECT below
        mids, measurements = _read_measurements(conn, selection)
        position = {mid: row for row, mid in enumerate(mids)}
        probes = _read_samples(conn, PROBES, "seq", selection, position, source)
        intervals = _read_samples(
            conn, INTERVALS, "stream, start_offset_s", selection, position, source
        )
        agents = _read_block(conn, "agents", "rowid", (), AGENTS.columns)
    except sqlite3.Error as exc:
        raise StoreError(f"{source}: cannot read store: {exc}") from exc
    finally:
        if began and conn.in_transaction:
            conn.execute("COMMIT")  # ends the read snapshot; nothing was written
    return StoreColumns(measurements, probes, intervals, agents)


_MID = Column("mid", INT64, nullable=False)


def _read_measurements(
    conn: sqlite3.Connection, selection: _Filter
) -> tuple[Sequence[int], ColumnBlock]:
    """The selected measurements in key order, and their integer keys (not returned)."""
    block = _read_block(
        conn,
        f"measurements {selection.where}",
        "mid",
        selection.params,
        (_MID, *MEASUREMENTS.columns),
    )
    columns = dict(block.columns)
    nulls = dict(block.null_counts)
    mids = columns.pop(_MID.name)
    del nulls[_MID.name]
    return mids, ColumnBlock(block.length, columns, nulls)


def _read_samples(
    conn: sqlite3.Connection,
    table: Table,
    order: str,
    selection: _Filter,
    position: Mapping[int, int],
    source: str,
) -> ColumnBlock:
    """Probes or intervals of the selected measurements, with ``measurement_index``."""
    rows_of = table.name
    if selection.where:
        rows_of += f" WHERE mid IN (SELECT mid FROM measurements {selection.where})"
    # Rows per measurement in key order: the index column is built from these runs, so the
    # integer key is never fetched and converted row by row.
    runs = conn.execute(
        f"SELECT mid, COUNT(*) FROM {rows_of} GROUP BY mid ORDER BY mid", selection.params
    ).fetchall()
    block = _read_block(conn, rows_of, f"mid, {order}", selection.params, table.fields)
    index: array[int] = array("q")
    try:
        for mid, count in runs:
            index.extend(array("q", (position[mid],)) * count)
    except KeyError:
        raise StoreError(
            f"{source}: {table.name} rows refer to measurements that do not exist"
        ) from None
    return ColumnBlock(
        block.length,
        {MEASUREMENT_INDEX: index, **block.columns},
        {MEASUREMENT_INDEX: 0, **block.null_counts},
    )


def _read_block(
    conn: sqlite3.Connection,
    rows_of: str,
    order: str,
    params: tuple[Any, ...],
    columns: Sequence[Column],
) -> ColumnBlock:
    """``SELECT columns FROM rows_of ORDER BY order``, transposed into columns.

    A ``COUNT()`` pass first finds the entirely NULL columns, which are not fetched.
    """
    counts = ", ".join(["COUNT(*)", *(f"COUNT({c.store_name})" for c in columns)])
    total, *non_null = conn.execute(f"SELECT {counts} FROM {rows_of}", params).fetchone()
    present = [c for c, n in zip(columns, non_null, strict=True) if n]
    rows: list[tuple[Any, ...]] = []
    if total and present:
        names = ", ".join(c.store_name for c in present)
        rows = conn.execute(f"SELECT {names} FROM {rows_of} ORDER BY {order}", params).fetchall()
    # One C-level pass per column (faster than zip(*rows) on millions of rows).
    values = {c.name: list(map(itemgetter(i), rows)) for i, c in enumerate(present)}
    out: dict[str, Sequence[Any]] = {}
    nulls: dict[str, int] = {}
    for column, count in zip(columns, non_null, strict=True):
        missing = nulls[column.name] = total - count
        data = values.get(column.name)
        out[column.name] = NullColumn(total) if data is None else _typed(column, data, missing)
    return ColumnBlock(total, out, nulls)


def _typed(column: Column, data: list[Any], missing: int) -> Sequence[Any]:
    """A numeric column without NULLs as a flat array; anything else as it was read."""
    if missing or column.dtype not in _FLAT_TYPES:
        return data
    return array("d" if column.dtype == FLOAT64 else "q", data)
