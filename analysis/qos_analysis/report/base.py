"""The renderer protocol, the explicit registry, and atomic writing of rendered files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from qos.durable import atomic_write_bytes
from qos.errors import QosError
from qos_analysis.report.model import Report


class ReportError(QosError):
    """A report cannot be written or rendered (exit status 2 on the command line)."""


@dataclass(frozen=True)
class Rendered:
    """A rendered report: the main document and side files (name relative to it → bytes)."""

    content: bytes
    side_files: Mapping[str, bytes] = field(default_factory=dict)


class Renderer(Protocol):
    """Turns a :class:`~qos_analysis.report.model.Report` into bytes; never writes files."""

    name: str
    suffix: str

    def render(self, report: Report, stem: str) -> Rendered:
        """``stem`` is the output file's name without suffix (for side-file links)."""
        ...


def write_atomic(path: Path, content: bytes) -> None:
    """Write durably and atomically (:mod:`qos.durable`), so an interrupted render never
    leaves a half-written report; failures become a :class:`ReportError` naming the path."""
    directory = path.parent
    if not directory.is_dir():
        raise ReportError(f"{directory}: output directory does not exist")
    try:
        atomic_write_bytes(path, content, mode=0o644)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write the report ({exc.strerror})") from exc


def write_rendered(rendered: Rendered, path: Path) -> list[Path]:
    """Side files first, the main document last: a reader never sees a report whose
    figures are still missing."""
    written = []
    for name, data in sorted(rendered.side_files.items()):
        side = path.parent / name
        if not side.parent.is_dir():
            try:
                side.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ReportError(f"{side.parent}: cannot create ({exc.strerror})") from exc
        write_atomic(side, data)
        written.append(side)
    write_atomic(path, rendered.content)
    written.append(path)
    return written
