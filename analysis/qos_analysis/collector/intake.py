"""Per-record validation of a pushed batch (and of files given to ``qos ingest``).

A batch is a JSON array of records in the agent's versioned JSON (qos.serialization) or an
object ``{"records": [...]}``.  Each record is judged on its own and a rejected one carries
its reason: not an object, no usable id, a schema version this toolkit does not know, a
malformed field, a non-finite number (JSON has none; ``NaN`` delays are refused), a start
time in the future beyond the allowed clock skew, or another agent's id.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qos.errors import SerializationError
from qos.records import Measurement
from qos.serialization import measurement_from_dict

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_CLOCK_SKEW = timedelta(minutes=10)


@dataclass
class Rejection:
    index: int
    id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "reason": self.reason}


@dataclass
class Intake:
    """Records that passed validation and the reasons of those that did not."""

    valid: list[Measurement] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    foreign_agents: set[str] = field(default_factory=set)


class BatchError(Exception):
    """The batch as a whole is unusable (not JSON, wrong shape, too many records)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_batch(body: bytes, max_records: int) -> list[Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchError(422, f"body is not valid JSON: {exc}") from None
    records = doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        raise BatchError(422, 'body must be a JSON array of records or {"records": [...]}')
    if len(records) > max_records:
        raise BatchError(413, f"{len(records)} records in one batch; at most {max_records}")
    return records


def validate(records: list[Any], *, agent_id: str | None, now: datetime | None = None) -> Intake:
    """Judge every record; ``agent_id`` (the token's agent) is the only id allowed."""
    now = now or datetime.now(UTC)
    out = Intake()
    for index, doc in enumerate(records):
        rid = doc.get("id") if isinstance(doc, dict) else None
        reason = _problem(doc, agent_id, now)
        if reason is None:
            try:
                out.valid.append(measurement_from_dict(doc))
                continue
            except (SerializationError, ValueError) as exc:
                reason = str(exc)
        if reason == "foreign":
            out.foreign_agents.add(str(doc.get("agent_id")))
            reason = "record of another agent"
        out.rejected.append(Rejection(index, rid if isinstance(rid, str) else None, reason))
    return out


def _problem(doc: Any, agent_id: str | None, now: datetime) -> str | None:
    if not isinstance(doc, dict):
        return "a record must be a JSON object"
    rid = doc.get("id")
    if not isinstance(rid, str) or not ID_PATTERN.fullmatch(rid):
        return "id must be 1-64 characters from A-Z a-z 0-9 _ -"
    if agent_id is not None and doc.get("agent_id") != agent_id:
        return "foreign"
    bad = _non_finite(doc)
    if bad:
        return f"non-finite number at {bad}"
    started = doc.get("started_at")
    try:
        when = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        return "started_at must be an ISO 8601 time with a UTC offset"
    if when - now > MAX_CLOCK_SKEW:
        return f"started_at {started} lies in the future"
    return None


def _non_finite(value: Any, path: str = "$") -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found:
                return found
    return None
