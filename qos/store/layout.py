"""The tables' columns and the export files, defined once.

Every consumer of stored data takes its column lists from here:

* the SQLite store (:mod:`qos.store.schema`, :mod:`qos.store.rows`, :mod:`qos.store.columns`)
  — which record fields become which columns;
* the agent's exporter (``qos-agent export``) — file names, column order, the Parquet schema
  (built lazily from :attr:`Column.dtype` on the agent side; this module stays stdlib-only);
* the analysis readers — the columns an export must hold and their types.

A :class:`Table` is a key column (``measurement_id``, or ``agent_id`` for agents) followed by
its fields.  Column names are those of the export files and the loaded frames; a column
stored under another name in SQLite says so in :attr:`Column.stored_as` (the measurement's
``id``; ``started_at`` is stored as integer microseconds since the Unix epoch, UTC, in
``started_at_us``).  Probe and interval rows are keyed in SQLite by the measurement's
integer row key ``mid`` and in exports by ``measurement_id``.

Export layout: an output directory holding ``<table>.parquet`` or ``<table>.csv`` for each
of :data:`TABLES`; or, for JSON Lines, :data:`JSONL_FILE` with one full versioned record per
line (:mod:`qos.serialization`) beside :data:`JSONL_AGENTS_FILE` (the agents' time zones).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Logical column types.  Integer widths are those of the Parquet export.
STRING = "string"
FLOAT64 = "float64"
INT64 = "int64"
INT32 = "int32"
INT16 = "int16"
BOOL = "bool"
TIMESTAMP_US_UTC = "timestamp[us, UTC]"

NUMERIC_TYPES = frozenset({FLOAT64, INT64, INT32, INT16, BOOL})


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its export name, logical type, nullability and SQLite name."""

    name: str
    dtype: str
    nullable: bool = True
    stored_as: str = ""

    @property
    def store_name(self) -> str:
        """Name of the column in the SQLite table."""
        return self.stored_as or self.name

    @property
    def raw_name(self) -> str:
        """Name in :meth:`~qos.store.sqlite.SqliteStore.export_rows`, whose values keep the
        stored encoding: a timestamp is named after its stored form (``started_at_us``)."""
        return self.store_name if self.dtype == TIMESTAMP_US_UTC else self.name


@dataclass(frozen=True, slots=True)
class Table:
    """A table: a key column followed by the fields of the record it holds."""

    name: str
    key: Column
    fields: tuple[Column, ...]

    @property
    def columns(self) -> tuple[Column, ...]:
        return (self.key, *self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in the export files and the loaded frames, in order."""
        return tuple(c.name for c in self.columns)

    @property
    def field_names(self) -> tuple[str, ...]:
        """The fields' SQLite column names, in order (the key excluded)."""
        return tuple(c.store_name for c in self.fields)

    def names_of(self, *dtypes: str) -> tuple[str, ...]:
        """Names of the columns whose logical type is one of ``dtypes``."""
        return tuple(c.name for c in self.columns if c.dtype in dtypes)

    def file_name(self, fmt: str) -> str:
        """File of this table in an export of format ``fmt`` (``parquet`` or ``csv``)."""
        return f"{self.name}.{fmt}"


_MEASUREMENT_ID = Column("measurement_id", STRING, nullable=False)

MEASUREMENTS = Table(
    "measurements",
    Column("measurement_id", STRING, nullable=False, stored_as="id"),
    (
        Column("agent_id", STRING, nullable=False),
        Column("collector", STRING, nullable=False),
        Column("target", STRING, nullable=False),
        Column("started_at", TIMESTAMP_US_UTC, nullable=False, stored_as="started_at_us"),
        Column("duration_s", FLOAT64, nullable=False),
        Column("status", STRING, nullable=False),
        Column("error", STRING),
        Column("kind", STRING),
        Column("schema_version", INT32, nullable=False),
        Column("params_json", STRING, nullable=False),
        Column("labels_json", STRING, nullable=False),
        Column("result_json", STRING),
    ),
)

#: One row per probe: the fields of :class:`qos.records.ProbeSample`, in order.
PROBES = Table(
    "probes",
    _MEASUREMENT_ID,
    (
        Column("seq", INT64, nullable=False),
        Column("send_offset_s", FLOAT64, nullable=False),
        Column("rtt_s", FLOAT64),
        Column("ttl", INT16),
        Column("duplicates", INT32, nullable=False),
        Column("size_bytes", INT32),
        Column("forward_delay_s", FLOAT64),
        Column("backward_delay_s", FLOAT64),
        Column("reflector_residence_s", FLOAT64),
        Column("lost_direction", STRING),
        Column("one_way_valid", BOOL),
        Column("reflector_ttl", INT16),
    ),
)

#: One row per throughput sample: the fields of :class:`qos.records.ThroughputInterval`.
INTERVALS = Table(
    "intervals",
    _MEASUREMENT_ID,
    (
        Column("stream", INT32, nullable=False),
        Column("start_offset_s", FLOAT64, nullable=False),
        Column("duration_s", FLOAT64, nullable=False),
        Column("bytes", INT64, nullable=False),
        Column("warmup", BOOL, nullable=False),
    ),
)

#: The agents' IANA time zones (local-time windows such as peak hours need them).
AGENTS = Table("agents", Column("agent_id", STRING, nullable=False), (Column("timezone", STRING),))

#: Tables of a Parquet or CSV export, in the order they are written.
TABLES: tuple[Table, ...] = (MEASUREMENTS, PROBES, INTERVALS, AGENTS)
TABLES_BY_NAME = {t.name: t for t in TABLES}

#: Export formats of ``qos-agent export``.
FORMATS = ("parquet", "csv", "jsonl")
#: JSON Lines export: one versioned record per line, and the agents' time zones beside it.
JSONL_FILE = "measurements.jsonl"
JSONL_AGENTS_FILE = AGENTS.file_name("csv")
#: The file whose presence marks a directory as an export, per format.
EXPORT_BASENAMES = (MEASUREMENTS.file_name("parquet"), MEASUREMENTS.file_name("csv"), JSONL_FILE)

#: Field lists of the SQLite tables (the ``mid`` key excluded).
PROBE_COLUMNS = PROBES.field_names
INTERVAL_COLUMNS = INTERVALS.field_names
