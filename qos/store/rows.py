"""Row ↔ record codec of the SQLite store, and the export queries (docs/architecture.md §2.3).

:mod:`qos.store.sqlite` owns the connection and the transactions; this module only turns a
:class:`~qos.records.Measurement` into table rows and rows back into records, so the two
directions sit next to each other and stay symmetric:

* the envelope goes to ``measurements`` (the result header as JSON, without its samples);
* RTT probes go to ``probes`` and throughput samples to ``intervals``, one row each;
* SQLite returns 0/1 for booleans and text for enums, so decoding restores the record types.

:func:`export_query` builds the streaming SELECT of one table in the export layout
(``measurement_id`` instead of the internal integer key ``mid``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from qos.errors import StoreError
from qos.records import (
    LossDirection,
    Measurement,
    ProbeSample,
    RttResult,
    Status,
    ThroughputInterval,
    ThroughputResult,
)
from qos.serialization import result_from_dict, result_to_dict
from qos.store.layout import (
    AGENTS,
    INTERVAL_COLUMNS,
    MEASUREMENTS,
    PROBE_COLUMNS,
    PROBES,
    TABLES_BY_NAME,
)
from qos.store.schema import from_epoch_us, to_epoch_us

# -- record → rows ---------------------------------------------------------------------------


def measurement_values(m: Measurement) -> tuple[Any, ...]:
    """Values of the ``measurements`` INSERT (every column but ``mid``, in table order)."""
    header = None
    if m.result is not None:
        header = result_to_dict(m.result)
        header.pop("probes", None)
        header.pop("intervals", None)
    result_json = None if header is None else json.dumps(header, allow_nan=False)
    return envelope_values(m, to_epoch_us(m.started_at), result_json)


def envelope_values(m: Measurement, started_at: Any, result_json: str | None) -> tuple[Any, ...]:
    """A record's envelope in the column order of :data:`~qos.store.layout.MEASUREMENTS`.

    ``started_at`` and ``result_json`` are given in the form the destination holds: the
    store keeps epoch microseconds and the result header (samples in their own tables);
    a record stream keeps the timestamp and the whole result.
    """
    return (
        m.id,
        m.agent_id,
        m.collector,
        m.target,
        started_at,
        m.duration_s,
        str(m.status),
        m.error,
        m.kind,
        m.schema_version,
        json.dumps(dict(m.params), default=str),
        json.dumps(dict(m.labels)),
        result_json,
    )


def probe_rows(mid: int | None, probes: Iterable[ProbeSample]) -> list[tuple[Any, ...]]:
    """``probes`` rows: ``mid`` followed by :data:`~qos.store.schema.PROBE_COLUMNS`."""
    return [
        (
            mid,
            p.seq,
            p.send_offset_s,
            p.rtt_s,
            p.ttl,
            p.duplicates,
            p.size_bytes,
            p.forward_delay_s,
            p.backward_delay_s,
            p.reflector_residence_s,
            None if p.lost_direction is None else str(p.lost_direction),
            None if p.one_way_valid is None else int(p.one_way_valid),
            p.reflector_ttl,
        )
        for p in probes
    ]


def interval_rows(
    mid: int | None, intervals: Iterable[ThroughputInterval]
) -> list[tuple[Any, ...]]:
    """``intervals`` rows: ``mid`` followed by :data:`~qos.store.schema.INTERVAL_COLUMNS`."""
    return [
        (mid, i.stream, i.start_offset_s, i.duration_s, i.bytes, int(i.warmup)) for i in intervals
    ]


# -- rows → record ---------------------------------------------------------------------------


def row_to_measurement(conn: sqlite3.Connection, row: tuple[Any, ...]) -> Measurement:
    """One ``measurements`` row (:data:`~qos.store.schema.MEASUREMENT_COLUMNS` order) → record.

    The probes or intervals of the measurement are read from their tables through ``conn``.
    """
    (
        mid,
        mid_id,
        agent_id,
        collector,
        target,
        started_us,
        duration_s,
        status,
        error,
        kind,
        schema_version,
        params_json,
        labels_json,
        result_json,
    ) = row
    result = None
    if result_json is not None:
        header = json.loads(result_json)
        if kind == "rtt":
            header["probe_fields"] = list(PROBE_COLUMNS)
            header["probes"] = [
                list(r)
                for r in conn.execute(
                    f"SELECT {', '.join(PROBE_COLUMNS)} FROM probes WHERE mid = ? ORDER BY seq",
                    (mid,),
                )
            ]
        elif kind == "throughput":
            header["intervals"] = [
                list(r)
                for r in conn.execute(
                    f"SELECT {', '.join(INTERVAL_COLUMNS)} FROM intervals WHERE mid = ? "
                    "ORDER BY start_offset_s, stream",
                    (mid,),
                )
            ]
        result = result_from_dict(header)
        if isinstance(result, RttResult):
            result = fix_probe_types(result)
        elif isinstance(result, ThroughputResult):
            result = ThroughputResult(
                direction=result.direction,
                streams=result.streams,
                duration_s=result.duration_s,
                warmup_s=result.warmup_s,
                bytes_total=result.bytes_total,
                goodput_bps=result.goodput_bps,
                intervals=tuple(
                    ThroughputInterval(
                        i.stream, i.start_offset_s, i.duration_s, i.bytes, bool(i.warmup)
                    )
                    for i in result.intervals
                ),
                details=result.details,
            )
    return Measurement(
        id=mid_id,
        agent_id=agent_id,
        collector=collector,
        target=target,
        started_at=from_epoch_us(started_us),
        duration_s=duration_s,
        status=Status(status),
        error=error,
        params=json.loads(params_json),
        labels=json.loads(labels_json),
        result=result,
        schema_version=schema_version,
    )


def fix_probe_types(result: RttResult) -> RttResult:
    """SQLite returns 0/1 for booleans; restore the record's types."""
    probes = tuple(
        ProbeSample(
            seq=p.seq,
            send_offset_s=p.send_offset_s,
            rtt_s=p.rtt_s,
            ttl=p.ttl,
            duplicates=p.duplicates,
            size_bytes=p.size_bytes,
            forward_delay_s=p.forward_delay_s,
            backward_delay_s=p.backward_delay_s,
            reflector_residence_s=p.reflector_residence_s,
            lost_direction=None if p.lost_direction is None else LossDirection(p.lost_direction),
            one_way_valid=None if p.one_way_valid is None else bool(p.one_way_valid),
            reflector_ttl=p.reflector_ttl,
        )
        for p in result.probes
    )
    return RttResult(
        probes=probes,
        interval_s=result.interval_s,
        timeout_s=result.timeout_s,
        packet_size_bytes=result.packet_size_bytes,
        details=result.details,
    )


# -- export layout ---------------------------------------------------------------------------


def export_query(
    table: str, *, since: datetime | None = None, until: datetime | None = None
) -> tuple[list[str], str, list[Any]]:
    """Columns, SQL and parameters streaming one table in the export layout.

    ``table`` is ``measurements``, ``probes``, ``intervals`` or ``agents``
    (:data:`qos.store.layout.TABLES`); columns are named as in :attr:`Column.raw_name
    <qos.store.layout.Column.raw_name>`.  The time filter applies to the measurement's
    start.  An unknown table is a :class:`StoreError`.
    """
    spec = TABLES_BY_NAME.get(table)
    if spec is None:
        raise StoreError(f"unknown table {table!r}")
    columns = [c.raw_name for c in spec.columns]
    if spec is AGENTS:
        cols = ", ".join(c.store_name for c in spec.columns)
        return columns, f"SELECT {cols} FROM agents ORDER BY agent_id", []
    clauses, params = [], []
    if since is not None:
        clauses.append("m.started_at_us >= ?")
        params.append(to_epoch_us(since))
    if until is not None:
        clauses.append("m.started_at_us < ?")
        params.append(to_epoch_us(until))
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    if spec is MEASUREMENTS:
        cols = ", ".join(f"m.{c.store_name}" for c in spec.columns)
        sql = f"SELECT {cols} FROM measurements m {where} ORDER BY m.started_at_us, m.mid"
    else:
        alias = table[0]
        cols = ", ".join(f"{alias}.{name}" for name in spec.field_names)
        sql = (
            f"SELECT m.id, {cols} FROM {table} {alias} JOIN measurements m "
            f"ON m.mid = {alias}.mid {where} ORDER BY m.started_at_us, m.mid, "
            + ("p.seq" if spec is PROBES else "i.start_offset_s, i.stream")
        )
    return columns, sql, params
