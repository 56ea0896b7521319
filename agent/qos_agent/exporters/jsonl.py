"""``type = "jsonl"``: one versioned JSON record per line, with rotation by size or time.

Options: ``path`` (required), ``fsync`` (default false), ``rotate_size`` (e.g. ``"10MB"``),
``rotate_interval`` (e.g. ``"1d"``).  A rotated file is renamed
``<stem>-<UTC time>.jsonl`` beside ``path``; the current file is always ``path``, so log
forwarders can follow it.  The file is opened on demand, so a missing directory or full
disk is an export failure that is retried later, not a crash.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, ClassVar

from qos.records import Measurement
from qos.serialization import dumps
from qos_agent.exporters.base import (
    ExporterContext,
    Rotation,
    bool_option,
    check_options,
    check_writable,
    path_option,
    rotated_name,
)

OPTIONS = ("path", "fsync", "rotate_size", "rotate_interval")


class JsonLinesExporter:
    durable: ClassVar[bool] = True

    def __init__(self, name: str, options: Mapping[str, Any], context: ExporterContext) -> None:
        self.name = name
        self.path, self.fsync, self.rotation = self._parse(name, options)
        self._fh: IO[str] | None = None

    @staticmethod
    def _parse(name: str, options: Mapping[str, Any]) -> tuple[Path, bool, Rotation]:
        check_options(name, options, OPTIONS)
        path = path_option(name, options, "path", "~/qos/measurements.jsonl")
        return path, bool_option(name, options, "fsync"), Rotation.from_options(name, options)

    @classmethod
    def check(cls, name: str, options: Mapping[str, Any]) -> None:
        """Validate the options and that the file can be appended to, without writing."""
        path, _fsync, _rotation = cls._parse(name, options)
        check_writable(name, "path", path)

    def export(self, measurement: Measurement) -> None:
        line = dumps(measurement) + "\n"
        if self.rotation.due(self.path):
            self._close_file()
            os.replace(self.path, rotated_name(self.path))
        fh = self._open()
        start = fh.tell()
        try:
            fh.write(line)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        except BaseException:
            self._close_file()  # reopen next time: the directory may come back
            self._cut(start)
            raise

    def _cut(self, size: int) -> None:
        """Remove a partly written line, so a retried record appears exactly once."""
        with contextlib.suppress(OSError):
            os.truncate(self.path, size)

    def _open(self) -> IO[str]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
            self._fh.seek(0, os.SEEK_END)
        return self._fh

    def _close_file(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None

    def close(self) -> None:
        self._close_file()
