"""Delivery of committed records to exporters, with a cursor per durable exporter.

A durable exporter's cursor is the largest store key (``mid``) it has delivered, kept in the
store's ``exporter_cursors`` table.  After each commit the record is handed straight to every
exporter that is caught up; one that failed (its target down, its disk full) is retried with
exponential backoff and jitter and catches up from the store in key order (in batches when
the exporter has ``export_batch``), so once it is back every record reaches it exactly once
by id — across restarts too.  A new exporter starts at the current end of the store (it
delivers what is measured from now on).  One failing exporter
never blocks another one or the measurements.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qos.errors import StoreError
from qos.records import Measurement
from qos.store import SqliteStore
from qos_agent.exporters import Exporter

log = logging.getLogger(__name__)

BATCH = 100
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 300.0


@dataclass
class _State:
    exporter: Exporter
    cursor: int
    failures: int = 0
    retry_at: float = 0.0
    saved: bool = True


class Delivery:
    def __init__(
        self,
        store: SqliteStore,
        exporters: Sequence[Exporter],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._monotonic = monotonic
        self._live = [e for e in exporters if not e.durable]
        cursors = store.cursors()
        top = store.max_mid()
        self._durable: list[_State] = []
        for exporter in exporters:
            if exporter.durable:
                state = _State(exporter, cursors.get(exporter.name, top))
                state.saved = exporter.name in cursors
                self._durable.append(state)
                self._save(state)  # a full disk only delays this; it is kept in memory

    def committed(self, mid: int, measurement: Measurement, previous_top: int) -> None:
        """Hand a just-stored record (key ``mid``) to every exporter."""
        for exporter in self._live:
            try:
                exporter.export(measurement)
            except Exception as exc:
                log.error("exporter %s failed: %s", exporter.name, exc)
        for state in self._durable:
            if state.cursor == previous_top and state.failures == 0:
                self._deliver(state, [(mid, measurement)])
            else:
                self._catch_up(state)

    def retry(self) -> None:
        """Catch up exporters whose backoff has expired (called while the agent idles)."""
        for state in self._durable:
            self._catch_up(state)

    def protected_mid(self) -> int:
        """Records with a larger key are not delivered by every durable exporter yet."""
        if not self._durable:
            return self.store.max_mid()
        return min(s.cursor for s in self._durable)

    def next_retry_at(self) -> float | None:
        waiting = [s.retry_at for s in self._durable if s.failures]
        return min(waiting) if waiting else None

    def _catch_up(self, state: _State) -> None:
        if state.failures and self._monotonic() < state.retry_at:
            return
        while True:
            try:
                batch = self.store.after(state.cursor, limit=BATCH)
            except StoreError as exc:
                log.error("exporter %s: cannot read the store: %s", state.exporter.name, exc)
                return
            if not batch or not self._deliver(state, batch):
                return

    def _deliver(self, state: _State, batch: list[tuple[int, Measurement]]) -> bool:
        ok = True
        send_batch = getattr(state.exporter, "export_batch", None)
        # an exporter with export_batch (a remote endpoint) takes the batch in one request
        groups = [batch] if send_batch is not None else [[item] for item in batch]
        for group in groups:
            try:
                if send_batch is not None:
                    send_batch([m for _, m in group])
                else:
                    state.exporter.export(group[0][1])
            except Exception as exc:
                state.failures += 1
                delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (state.failures - 1))
                delay *= random.uniform(0.5, 1.0)  # jitter: a fleet does not retry in step
                state.retry_at = self._monotonic() + delay
                log.error(
                    "exporter %s failed on measurement %s (retry in %.0f s): %s",
                    state.exporter.name,
                    group[0][1].id,
                    delay,
                    exc,
                )
                ok = False
                break
            state.cursor = group[-1][0]
            state.saved = False
        if ok and state.failures:
            log.warning("exporter %s delivers again", state.exporter.name)
            state.failures = 0
        self._save(state)
        return ok

    def _save(self, state: _State) -> None:
        if state.saved:
            return
        try:
            self.store.set_cursor(state.exporter.name, state.cursor)
            state.saved = True
        except StoreError as exc:  # kept in memory; saved with the next delivery
            log.error("exporter %s: cannot save its cursor: %s", state.exporter.name, exc)

    def close(self) -> None:
        for state in self._durable:
            self._save(state)
        for exporter in [*self._live, *(s.exporter for s in self._durable)]:
            try:
                exporter.close()
            except Exception as exc:
                log.error("exporter %s failed to close: %s", exporter.name, exc)
