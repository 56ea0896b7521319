"""The exporter seam: the protocol, option checking and file rotation shared by file exporters."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from qos.errors import ConfigError, UnitError
from qos.paths import writable_file_problem
from qos.records import Measurement
from qos.suggest import unknown_name_hint
from qos.units import parse_duration_s, parse_size_bytes


class Exporter(Protocol):
    """One named exporter instance.

    ``export`` raises on failure (the record stays undelivered and is retried later);
    ``durable`` exporters are resumed from their delivery cursor after a restart.
    """

    name: str
    durable: ClassVar[bool]

    def export(self, measurement: Measurement) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ExporterContext:
    """What the agent shares with exporters: live state they may publish."""

    backlog: Callable[[], int] = field(default=lambda: 0)


def check_options(
    name: str, options: Mapping[str, Any], known: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Refuse unknown or missing options with the key path and a did-you-mean hint."""
    known = tuple(known)
    for key in sorted(set(options) - set(known)):
        raise ConfigError(
            "unknown exporter option",
            key=f"exporters.{name}.{key}",
            hint=unknown_name_hint(key, known),
        )
    for key in required:
        if key not in options:
            raise ConfigError("is required", key=f"exporters.{name}.{key}")


def path_option(name: str, options: Mapping[str, Any], key: str, example: str) -> Path:
    """A required (or, for a missing key, refused) file option as a path; syntax only."""
    raw = options.get(key)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(
            "is required" if raw is None else "must be a non-empty string",
            key=f"exporters.{name}.{key}",
            hint=f'e.g. {key} = "{example}"',
        )
    return Path(raw).expanduser()


def check_writable(name: str, key: str, path: Path) -> None:
    """Refuse a file that cannot be appended to here (tried for real, leaving no trace)."""
    problem = writable_file_problem(path)
    if problem:
        raise ConfigError(
            problem, key=f"exporters.{name}.{key}", hint="name a file in a writable directory"
        )


def bool_option(name: str, options: Mapping[str, Any], key: str) -> bool:
    value = options.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(
            "expected true or false", key=f"exporters.{name}.{key}", hint=f"{key} = true"
        )
    return value


@dataclass(frozen=True)
class Rotation:
    """When a file exporter starts a new file: by size and/or by wall-clock period.

    The period is aligned to the Unix epoch in UTC (``1d`` rotates at midnight UTC) and
    judged from the file's modification time, so it holds across agent restarts.
    """

    size_bytes: float | None = None
    period_s: float | None = None

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> Rotation:
        try:
            size = options.get("rotate_size")
            period = options.get("rotate_interval")
            return cls(
                None if size is None else parse_size_bytes(size),
                None if period is None else parse_duration_s(period),
            )
        except (UnitError, ValueError, TypeError) as exc:
            raise ConfigError(str(exc), key=f"exporters.{name}.rotate_*") from exc

    def due(self, path: Path, *, now: float | None = None) -> bool:
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if st.st_size == 0:
            return False
        if self.size_bytes is not None and st.st_size >= self.size_bytes:
            return True
        if self.period_s:
            current = time.time() if now is None else now
            return math.floor(current / self.period_s) != math.floor(st.st_mtime / self.period_s)
        return False


def rotated_name(path: Path, suffix: str | None = None) -> Path:
    """``records.jsonl`` → ``records-20261206T195500Z.jsonl`` (never an existing file)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ext = suffix if suffix is not None else path.suffix
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    candidate = path.with_name(f"{stem}-{stamp}{ext}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{stem}-{stamp}-{n}{ext}")
        n += 1
    return candidate
