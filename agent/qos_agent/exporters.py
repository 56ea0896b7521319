"""Live exporters: named instances configured under ``[[exporters]]`` (docs/architecture.md §2.4).

Each committed record is handed to every exporter; a failing exporter is logged by the
runtime and never stops the store or the others.  Types:

* ``jsonl`` — appends one versioned JSON record per line to ``path`` and flushes it
  (``fsync`` when ``fsync = true``), e.g. for shipping with a log forwarder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from qos.config import ExporterConfig
from qos.errors import ConfigError
from qos.paths import writable_file_problem
from qos.records import Measurement
from qos.serialization import dumps
from qos.suggest import unknown_name_hint


class Exporter(Protocol):
    name: str

    def export(self, measurement: Measurement) -> None: ...

    def close(self) -> None: ...


class JsonLinesExporter:
    """Append-only JSON Lines file of full records."""

    OPTIONS = ("path", "fsync")

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.path = self.check(name, options)
        self.name = name
        self.fsync = bool(options.get("fsync", False))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    @classmethod
    def check(cls, name: str, options: Mapping[str, Any]) -> Path:
        """Validate the options without touching the file; the path the exporter will use."""
        unknown = set(options) - set(cls.OPTIONS)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                "unknown exporter option",
                key=f"exporters.{name}.{key}",
                hint=unknown_name_hint(key, cls.OPTIONS),
            )
        raw = options.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(
                "is required" if raw is None else "must be a non-empty string",
                key=f"exporters.{name}.path",
                hint='e.g. path = "~/qos/measurements.jsonl"',
            )
        if "fsync" in options and not isinstance(options["fsync"], bool):
            raise ConfigError(
                "expected true or false", key=f"exporters.{name}.fsync", hint="fsync = true"
            )
        path = Path(raw).expanduser()
        problem = writable_file_problem(path)
        if problem:
            raise ConfigError(
                problem, key=f"exporters.{name}.path", hint="name a file in a writable directory"
            )
        return path

    def export(self, measurement: Measurement) -> None:
        self._fh.write(dumps(measurement) + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


_TYPES: dict[str, type[JsonLinesExporter]] = {"jsonl": JsonLinesExporter}


def exporter_class(cfg: ExporterConfig) -> type[JsonLinesExporter]:
    cls = _TYPES.get(cfg.type)
    if cls is None:
        raise ConfigError(
            f"unknown exporter type '{cfg.type}'",
            key=f"exporters.{cfg.name}.type",
            hint=unknown_name_hint(cfg.type, _TYPES),
        )
    return cls


def check_exporters(configs: Sequence[ExporterConfig]) -> None:
    """Everything :func:`build_exporters` would refuse, refused without opening a file."""
    for cfg in configs:
        exporter_class(cfg).check(cfg.name, cfg.options)


def build_exporters(configs: Sequence[ExporterConfig]) -> list[Exporter]:
    check_exporters(configs)
    return [exporter_class(cfg)(cfg.name, cfg.options) for cfg in configs]
