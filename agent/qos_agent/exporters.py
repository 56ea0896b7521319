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
from qos.records import Measurement
from qos.serialization import dumps
from qos.suggest import unknown_name_hint


class Exporter(Protocol):
    name: str

    def export(self, measurement: Measurement) -> None: ...

    def close(self) -> None: ...


class JsonLinesExporter:
    """Append-only JSON Lines file of full records."""

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        unknown = set(options) - {"path", "fsync"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                "unknown exporter option",
                key=f"exporters.{name}.{key}",
                hint=unknown_name_hint(key, ["path", "fsync"]),
            )
        if "path" not in options:
            raise ConfigError("is required", key=f"exporters.{name}.path")
        self.name = name
        self.path = Path(str(options["path"])).expanduser()
        self.fsync = bool(options.get("fsync", False))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def export(self, measurement: Measurement) -> None:
        self._fh.write(dumps(measurement) + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


_TYPES: dict[str, type[JsonLinesExporter]] = {"jsonl": JsonLinesExporter}


def build_exporters(configs: Sequence[ExporterConfig]) -> list[Exporter]:
    exporters: list[Exporter] = []
    for cfg in configs:
        cls = _TYPES.get(cfg.type)
        if cls is None:
            raise ConfigError(
                f"unknown exporter type '{cfg.type}'",
                key=f"exporters.{cfg.name}.type",
                hint=unknown_name_hint(cfg.type, _TYPES),
            )
        exporters.append(cls(cfg.name, cfg.options))
    return exporters
