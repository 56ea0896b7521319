"""Measurement stores: where committed measurements live (docs/architecture.md §2.3, §4).

The default store is :class:`~qos.store.sqlite.SqliteStore`: embedded, WAL mode, one
transaction per measurement, per-probe samples in their own table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from qos.records import Measurement
from qos.store.columns import ColumnBlock, StoreColumns
from qos.store.sqlite import STORE_SCHEMA_VERSION, SqliteStore


class Store(Protocol):
    """What every store offers; a shared contract test checks write → read equality."""

    def append(self, measurement: Measurement) -> None: ...

    def iter_measurements(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        collector: str | None = None,
        target: str | None = None,
    ) -> Iterator[Measurement]: ...

    def close(self) -> None: ...


__all__ = ["STORE_SCHEMA_VERSION", "ColumnBlock", "SqliteStore", "Store", "StoreColumns"]
