"""Live exporters: named instances configured under ``[[exporters]]`` (docs/architecture.md §2.4).

Each committed record is handed to every exporter by :mod:`qos_agent.delivery`; a failing
exporter is logged, retried later and never stops the store, the measurements or the other
exporters.  A *durable* exporter (files, remote endpoints) has a delivery cursor in the
store — the last record it delivered — so a restart neither skips nor repeats and a target
that was down receives everything once it is back.  A live view (Prometheus) is not
durable: it shows the records committed while it runs.

Adding an exporter type = one module in this package + one line in :data:`_REGISTRY`.  The
class takes ``(name, options, context)`` and has a ``check(name, options)`` classmethod that
validates the options without side effects (``check-config``).
Modules are imported only when an instance of their type is configured, so an agent
without a Prometheus exporter never imports ``prometheus_client``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from qos.config import ExporterConfig
from qos.errors import ConfigError
from qos.suggest import unknown_name_hint
from qos_agent.exporters.base import Exporter, ExporterContext

#: exporter type → "module:Class"
_REGISTRY: dict[str, str] = {
    "http": "qos_agent.exporters.http:HttpExporter",
    "jsonl": "qos_agent.exporters.jsonl:JsonLinesExporter",
    "parquet": "qos_agent.exporters.parquet:ParquetExporter",
    "prometheus": "qos_agent.exporters.prometheus:PrometheusExporter",
}


def types() -> list[str]:
    return sorted(_REGISTRY)


def exporter_class(kind: str, name: str) -> type:
    """The class implementing exporter type ``kind`` (imported now)."""
    path = _REGISTRY.get(kind)
    if path is None:
        raise ConfigError(
            f"unknown exporter type '{kind}'",
            key=f"exporters.{name}.type",
            hint=unknown_name_hint(kind, _REGISTRY),
        )
    module_name, _, class_name = path.partition(":")
    cls: type = getattr(importlib.import_module(module_name), class_name)
    return cls


def check_exporters(configs: Sequence[ExporterConfig]) -> None:
    """Everything :func:`build_exporters` would refuse, refused without opening a file or a
    port (``check-config`` and the start-up validation call this)."""
    for cfg in configs:
        exporter_class(cfg.type, cfg.name).check(cfg.name, cfg.options)  # type: ignore[attr-defined]


def build_exporters(
    configs: Sequence[ExporterConfig], context: ExporterContext | None = None
) -> list[Exporter]:
    """One instance per ``[[exporters]]`` entry; bad options raise :class:`ConfigError`."""
    ctx = context or ExporterContext()
    exporters: list[Exporter] = []
    try:
        for cfg in configs:
            exporters.append(exporter_class(cfg.type, cfg.name)(cfg.name, cfg.options, ctx))
    except BaseException:
        for exporter in exporters:  # a listening port or open file must not leak
            exporter.close()
        raise
    return exporters


__all__ = [
    "Exporter",
    "ExporterContext",
    "build_exporters",
    "check_exporters",
    "exporter_class",
    "types",
]
