"""One tree of errors for the whole toolkit (docs/architecture.md §3).

Every error a user can cause derives from :class:`QosError`, so CLIs can map them to exit
code 2 with a clear message instead of a traceback.
"""

from __future__ import annotations


class QosError(Exception):
    """Base of every error raised on purpose by qos-toolkit."""


class UnitError(QosError, ValueError):
    """A quantity could not be parsed or has the wrong dimension (e.g. ``"5 apples"``)."""


class ConfigError(QosError):
    """A configuration file is invalid: names the file, the key and, where possible, a fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.hint = hint
        parts = []
        if file:
            parts.append(str(file))
        if key:
            parts.append(f"key '{key}'")
        where = ": ".join(parts)
        text = f"{where}: {message}" if where else message
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class ProfileError(ConfigError):
    """A threshold profile is invalid (unknown metric, unit, newer schema …)."""


class StoreError(QosError):
    """The measurement store cannot be opened, read or written."""


class StoreFullError(StoreError):
    """The disk (or quota) is full: the write failed but may succeed once space returns."""


class StoreBusyError(StoreError):
    """Another connection holds the write lock past the busy timeout: retry later."""


class DuplicateRecordError(StoreError):
    """A measurement with this id is already stored (an earlier attempt committed it)."""


class SchemaVersionError(StoreError):
    """Data was written by a newer schema than this version understands; it is refused."""


class SerializationError(QosError, ValueError):
    """A serialised record is malformed or of an unsupported schema version."""


class CollectorError(QosError):
    """A collector cannot run or was given invalid parameters."""


class UnknownCollectorError(CollectorError, KeyError):
    """No collector is registered under that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown collector"


class ParameterError(CollectorError, ValueError):
    """A collector parameter is missing, unknown or out of range."""
