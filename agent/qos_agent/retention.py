"""Retention: age and size limits that never remove what an exporter has not delivered.

``qos-agent prune --older-than 90d`` and ``[store] max_size`` both delete only records whose
key is at or below every durable exporter's delivery cursor (unless ``--force``), then give
the freed pages back to the file system (incremental vacuum), so the file really shrinks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime

from qos.config import AgentConfig
from qos.store import SqliteStore
from qos_agent.exporters import exporter_class

log = logging.getLogger(__name__)

#: records deleted per step while bringing a store under its max_size
SIZE_STEP = 200


def durable_exporter_names(config: AgentConfig) -> list[str]:
    """Names of the configured exporters that keep a delivery cursor."""
    return [
        e.name
        for e in config.exporters
        if getattr(exporter_class(e.type, e.name), "durable", False)
    ]


def protected_mid(store: SqliteStore, names: Iterable[str]) -> int:
    """Largest key every named exporter has delivered (a missing cursor starts at the end
    of the store when that exporter first runs, so it protects nothing)."""
    cursors = store.cursors()
    top = store.max_mid()
    return min([cursors.get(name, top) for name in names], default=top)


def prune(store: SqliteStore, before: datetime, *, up_to_mid: int | None) -> int:
    """Delete records started before ``before`` (and keyed ≤ ``up_to_mid``), then shrink."""
    removed = store.prune(before, up_to_mid=up_to_mid)
    if removed:
        store.shrink()
    return removed


def enforce_max_size(store: SqliteStore, limit_bytes: float, up_to_mid: int) -> int:
    """Delete the oldest delivered records until the store holds at most ``limit_bytes``."""
    removed = 0
    while (size := store.size_bytes()) > limit_bytes:
        count = max(1, store.count())
        excess = math.ceil((size - limit_bytes) / (size / count))  # records, on average
        cutoff = store.oldest_first(min(SIZE_STEP, excess), up_to_mid=up_to_mid)
        if cutoff is None:
            log.warning(
                "store %s exceeds max_size (%d bytes) but holds nothing delivered to prune",
                store.path,
                int(limit_bytes),
            )
            break
        step = store.prune(cutoff, up_to_mid=up_to_mid)
        removed += step
        if step == 0:
            break
    if removed:
        store.shrink()
        log.warning("max_size: pruned the %d oldest records of %s", removed, store.path)
    return removed
