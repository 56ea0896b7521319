"""Typed reads of TOML values whose errors name the profile file, the key and a fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qos.errors import ProfileError, UnitError
from qos.suggest import unknown_name_hint
from qos.units import parse_duration_s


class Ctx:
    """The file being read, for error messages, and typed readers of its values."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> ProfileError:
        return ProfileError(message, file=self.path, key=key, hint=hint)

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.error(
                    f"unknown key '{key}'", key=name, hint=unknown_name_hint(key, allowed)
                )

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(f"must be a table, got {type(value).__name__}", key=key)
        return value

    def string(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        *,
        required: bool = True,
        default: str = "",
    ) -> str:
        if key not in table:
            if required:
                raise self.error("missing required key", key=join_key(where, key))
            return default
        value = table[key]
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error("must be a non-empty string", key=join_key(where, key))
        return value

    def boolean(
        self, table: Mapping[str, Any], key: str, where: str, *, default: bool | None = None
    ) -> bool:
        if key not in table:
            if default is None:
                raise self.error("missing required key (true or false)", key=join_key(where, key))
            return default
        value = table[key]
        if not isinstance(value, bool):
            raise self.error(f"must be true or false, got {value!r}", key=join_key(where, key))
        return value

    def choice(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        choices: Iterable[str],
        default: str | None,
    ) -> str | None:
        if key not in table:
            return default
        value = table[key]
        options = tuple(choices)
        if value not in options:
            raise self.error(
                f"invalid value {value!r}",
                key=join_key(where, key),
                hint=unknown_name_hint(str(value), options),
            )
        return str(value)

    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        *,
        minimum: int = 0,
        required: bool = True,
        default: int | None = None,
    ) -> int | None:
        if key not in table:
            if required:
                raise self.error("missing required key", key=join_key(where, key))
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(
                f"must be an integer ≥ {minimum}, got {value!r}", key=join_key(where, key)
            )
        return value

    def duration(self, value: Any, key: str) -> float:
        try:
            seconds = parse_duration_s(value)
        except UnitError as exc:
            raise self.error(str(exc), key=key) from exc
        return seconds


def join_key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
