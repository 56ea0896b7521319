"""Agent configuration: TOML → frozen dataclasses (docs/architecture.md §5).

Precedence, highest first: command-line overrides > ``QOS_*`` environment variables >
the file > built-in defaults.  Environment variables are named ``QOS_<SECTION>_<KEY>``
in upper case (``QOS_STORE_PATH``, ``QOS_AGENT_ID``, ``QOS_AGENT_TIMEZONE``); command-line
overrides use ``section.key=value``.

Every key is checked: an unknown key fails with the file, the key path and a did-you-mean
hint; a wrong type or unit fails with the file and key.  Durations, sizes and rates are
written with units (``"30s"``, ``"50MB"``, ``"2Mbit/s"``) and held in base units.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qos.errors import ConfigError, UnitError
from qos.paths import default_store_path
from qos.suggest import unknown_name_hint
from qos.units import parse_duration_s, parse_rate_bps, parse_size_bytes

CONFIG_SCHEMA_VERSION = 1
ENV_PREFIX = "QOS_"


@dataclass(frozen=True, slots=True)
class AgentSection:
    """Who is measuring: an opaque id (random by default) and the local time zone."""

    id: str = "auto"  # "auto": a random id created once and kept in the data directory
    timezone: str = "auto"  # IANA name; "auto": the host's zone
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


#: label keys accepted by default: describe the line and the setup, never the person
DEFAULT_LABEL_KEYS: tuple[str, ...] = (
    "site",
    "isp",
    "plan",
    "access",
    "technology",
    "link",
    "device",
    "network",
    "path",
    "role",
    "purpose",
    "env",
    "room",
)


@dataclass(frozen=True, slots=True)
class PrivacySection:
    """Personal data is opt-in: nothing below is collected unless set to true."""

    share_location: bool = False
    share_public_ip: bool = False
    #: label keys allowed on records (``[agent] labels`` and job labels); anything else is
    #: refused so free-form personal data cannot ride along by accident (docs/privacy.md)
    label_keys: tuple[str, ...] = DEFAULT_LABEL_KEYS


@dataclass(frozen=True, slots=True)
class StoreSection:
    path: str = ""  # empty: the XDG data directory
    spill_dir: str = ""  # empty: beside the store
    max_size_bytes: float | None = None  # oldest delivered records are pruned beyond this
    backlog_limit: int = 500  # records queued in memory while the store cannot be written

    def resolved_spill_dir(self) -> Path:
        return Path(self.spill_dir).expanduser() if self.spill_dir else self.resolved_path().parent

    def resolved_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else default_store_path()


@dataclass(frozen=True, slots=True)
class ReferenceSection:
    """Built-in loopback reference services for offline measurement (``@reference/…``)."""

    enabled: bool = True
    bind: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class FairUseSection:
    """Cross-traffic guard for heavy jobs: defer them while the user is busy on the line."""

    interface: str = ""  # empty: guard disabled
    threshold_bps: float = 2e6
    sample_s: float = 1.0
    defer_s: float = 600.0


@dataclass(frozen=True, slots=True)
class JobConfig:
    """One scheduled measurement: a collector, a target, parameters and a rhythm."""

    name: str
    collector: str
    target: str
    interval_s: float = 300.0
    spread_s: float = 0.0
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    daily_budget_bytes: float | None = None
    enabled: bool = True
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: a collector still running after this long is cut off and recorded (None: default)
    deadline_s: float | None = None

    @property
    def effective_deadline_s(self) -> float:
        """The job's deadline: as configured, else its interval but at least 60 s."""
        return self.deadline_s if self.deadline_s is not None else max(self.interval_s, 60.0)


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """A continuous low-rate STAMP probe stream, summarised per window."""

    name: str
    target: str
    collector: str = "stamp"
    interval_s: float = 1.0
    summary_s: float = 3600.0
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    """A named exporter instance (murakami's pattern): type plus options."""

    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class AgentConfig:
    schema_version: int = CONFIG_SCHEMA_VERSION
    agent: AgentSection = field(default_factory=AgentSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    store: StoreSection = field(default_factory=StoreSection)
    reference: ReferenceSection = field(default_factory=ReferenceSection)
    fair_use: FairUseSection = field(default_factory=FairUseSection)
    jobs: tuple[JobConfig, ...] = ()
    streams: tuple[StreamConfig, ...] = ()
    exporters: tuple[ExporterConfig, ...] = ()
    source: str = "<defaults>"
    #: ``section.key`` → where an override of the file came from (environment variable or
    #: command line), so later checks name the real origin of a bad value
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


# -- parsing helpers ---------------------------------------------------------------------


class _Reader:
    """Reads one table, tracking the key path and the file for error messages."""

    def __init__(self, data: Mapping[str, Any], path: str, file: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError("must be a table", file=file, key=path or None)
        self.data = data
        self.path = path
        self.file = file
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key(name), hint=hint)

    def get(
        self, name: str, convert: Callable[[Any], Any], default: Any, *, required: bool = False
    ) -> Any:
        self.used.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, "is required")
            return default
        raw = self.data[name]
        try:
            return convert(raw)
        except (UnitError, ValueError, TypeError) as exc:
            raise self.error(name, str(exc), getattr(exc, "hint", None)) from exc

    def table(self, name: str) -> _Reader:
        self.used.add(name)
        return _Reader(self.data.get(name, {}), self.key(name), self.file)

    def array(self, name: str) -> list[_Reader]:
        self.used.add(name)
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise self.error(name, "must be an array of tables ([[" + self.key(name) + "]])")
        return [_Reader(item, f"{self.key(name)}[{i}]", self.file) for i, item in enumerate(value)]

    def finish(self) -> None:
        for name in self.data:
            if name not in self.used:
                raise self.error(name, "unknown key", unknown_name_hint(name, self.used))


class InvalidValue(ValueError):
    """A value that fails a rule, with a hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _kind(value: Any) -> str:
    """A value's TOML kind for messages (``a table``, ``an array``, ``a float`` …)."""
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(
            f"expected a string, got {type(value).__name__} {value!r}", 'write it in quotes: "…"'
        )
    return value


def _nonempty_str(value: Any) -> str:
    text = _str(value)
    if not text.strip():
        raise InvalidValue("must not be empty", "write a non-empty value")
    return text


def _unprintable(text: str) -> str | None:
    """The first control, format, private-use or unassigned character of ``text``, if any.

    Such characters let an id or a label rewrite a terminal or split a table row when
    printed, so identifiers and labels are refused when they contain one.
    """
    for char in text:
        if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def _printable(value: Any) -> str:
    text = _nonempty_str(value)
    bad = _unprintable(text)
    if bad is not None:
        raise InvalidValue(
            f"contains the control or format character {bad}",
            "use printable characters only (no escapes, tabs or line breaks)",
        )
    return text


def _path(value: Any) -> str:
    """A file path (empty: the default): a string without control characters (a NUL
    cannot be passed to the operating system, a newline would split log lines)."""
    text = _str(value)
    return _printable(text) if text else text


def _timezone(value: Any) -> str:
    """``"auto"`` or an IANA zone name that exists in the system's time zone database."""
    name = _printable(value)
    if name == "auto":
        return name
    hint = "use an IANA name such as 'Europe/Berlin' or 'UTC', or 'auto'"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValue(f"unknown time zone {name!r}", hint) from None
    return name


def _bind_address(value: Any) -> str:
    """An IP address literal or ``localhost``: names are not resolved (no DNS at start)."""
    text = _printable(value)
    if text == "localhost":
        return text
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise InvalidValue(
            f"{text!r} is not an IP address", "use a local address such as 127.0.0.1 or ::1"
        ) from None
    return text


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.lower() in {"true", "1", "yes"}
    raise TypeError(f"expected true or false, got {value!r}")


def _int(value: Any) -> int:
    # int() would silently truncate 1.9 to 1 and accept "1"; a TOML integer is required.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _str_map(value: Any) -> Mapping[str, str]:
    """A table of printable strings (labels): every key and value is checked."""
    if not isinstance(value, Mapping):
        raise InvalidValue(
            f"expected a table of strings, got {_kind(value)}", 'write { key = "value" }'
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        try:
            out[_printable(key)] = _printable(item)
        except ValueError as exc:
            raise InvalidValue(
                f"label {_printable_name(key)}: {exc}", getattr(exc, "hint", None)
            ) from None
    return MappingProxyType(out)


def _printable_name(key: Any) -> str:
    return repr(str(key).encode("unicode_escape").decode("ascii"))


def _any_map(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidValue(f"expected a table, got {_kind(value)}", "write { key = value, … }")
    return MappingProxyType(dict(value))


def _positive_int(value: Any) -> int:
    number = _int(value)
    if number <= 0:
        raise ValueError("must be at least 1")
    return number


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected an array of strings")
    return tuple(value)


def _positive_size(value: Any) -> float:
    size = parse_size_bytes(value)
    if size <= 0:
        raise ValueError("must be larger than zero")
    return size


def _check_label_keys(
    labels: Mapping[str, str], allowed: tuple[str, ...], file: str, prefix: str
) -> None:
    """Refuse label keys outside ``[privacy] label_keys`` (docs/privacy.md)."""
    for key in labels:
        if key not in allowed:
            raise ConfigError(
                f"label key '{key}' is not in [privacy] label_keys",
                file=file,
                key=f"{prefix}.{key}",
                hint="labels travel with every record and every export; add the key to "
                "[privacy] label_keys if it carries no personal data",
            )


def _hinted(parse: Callable[[Any], float], hint: str) -> Callable[[Any], float]:
    """``parse`` whose unit errors carry ``hint`` (how to write the quantity)."""

    def convert(value: Any) -> float:
        try:
            return parse(value)
        except UnitError as exc:
            raise InvalidValue(str(exc), hint) from None

    return convert


_DURATION_HINT = 'write a finite quantity with a unit, e.g. "30s", "5min", "250ms"'
#: longest duration a config may give (a schedule longer than a year is a typo; waits and
#: clock arithmetic beyond ~292 years overflow the platform's time_t)
MAX_DURATION_S = 366 * 86400.0


def _duration(value: Any) -> float:
    seconds = _hinted(parse_duration_s, _DURATION_HINT)(value)
    if seconds > MAX_DURATION_S:
        raise InvalidValue(
            f"duration {value!r} is longer than a year", "write at most 366 days, e.g. '8760h'"
        )
    return seconds


_size = _hinted(parse_size_bytes, 'write a finite quantity with a unit, e.g. "50MB", "1GB"')
_rate = _hinted(parse_rate_bps, 'write a finite quantity with a unit, e.g. "2Mbit/s"')


def _positive_duration(value: Any) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


# -- the document ------------------------------------------------------------------------


def parse_config(data: Mapping[str, Any], *, file: str = "<config>") -> AgentConfig:
    """Validate a parsed TOML document into an :class:`AgentConfig`."""
    root = _Reader(data, "", file)
    version = root.get("schema_version", _int, CONFIG_SCHEMA_VERSION)
    if version > CONFIG_SCHEMA_VERSION:
        raise root.error(
            "schema_version",
            f"config schema {version} is newer than this qos-toolkit supports "
            f"({CONFIG_SCHEMA_VERSION})",
            "upgrade qos-toolkit",
        )
    if version < 1:
        raise root.error("schema_version", f"invalid schema version {version}")

    t = root.table("agent")
    agent = AgentSection(
        id=t.get("id", _printable, "auto"),
        timezone=t.get("timezone", _timezone, "auto"),
        labels=t.get("labels", _str_map, MappingProxyType({})),
    )
    t.finish()
    t = root.table("privacy")
    privacy = PrivacySection(
        share_location=t.get("share_location", _bool, False),
        share_public_ip=t.get("share_public_ip", _bool, False),
        label_keys=t.get("label_keys", _str_tuple, DEFAULT_LABEL_KEYS),
    )
    t.finish()
    _check_label_keys(agent.labels, privacy.label_keys, file, "agent.labels")
    t = root.table("store")
    store = StoreSection(
        path=t.get("path", _path, ""),
        spill_dir=t.get("spill_dir", _path, ""),
        max_size_bytes=t.get("max_size", _positive_size, None),
        backlog_limit=t.get("backlog_limit", _positive_int, 500),
    )
    t.finish()
    t = root.table("reference")
    reference = ReferenceSection(
        enabled=t.get("enabled", _bool, True), bind=t.get("bind", _bind_address, "127.0.0.1")
    )
    t.finish()
    t = root.table("fair_use")
    fair_use = FairUseSection(
        interface=t.get("interface", _str, ""),
        threshold_bps=t.get("threshold", _rate, 2e6),
        sample_s=t.get("sample", _positive_duration, 1.0),
        defer_s=t.get("defer", _positive_duration, 600.0),
    )
    t.finish()

    jobs = []
    names: set[str] = set()
    for t in root.array("jobs"):
        name = t.get("name", _printable, None, required=True)
        if name in names:
            raise t.error("name", f"duplicate job name '{name}'")
        names.add(name)
        budget = t.get("daily_budget", _size, None)
        jobs.append(
            JobConfig(
                name=name,
                collector=t.get("collector", _printable, None, required=True),
                target=t.get("target", _printable, None, required=True),
                interval_s=t.get("interval", _positive_duration, 300.0),
                spread_s=t.get("spread", _duration, 0.0),
                params=t.get("params", _any_map, MappingProxyType({})),
                daily_budget_bytes=budget,
                enabled=t.get("enabled", _bool, True),
                labels=t.get("labels", _str_map, MappingProxyType({})),
                deadline_s=t.get("deadline", _positive_duration, None),
            )
        )
        _check_label_keys(jobs[-1].labels, privacy.label_keys, file, t.key("labels"))
        t.finish()

    streams = []
    for t in root.array("streams"):
        name = t.get("name", _printable, None, required=True)
        if name in names:
            raise t.error("name", f"duplicate job/stream name '{name}'")
        names.add(name)
        streams.append(
            StreamConfig(
                name=name,
                target=t.get("target", _printable, None, required=True),
                collector=t.get("collector", _printable, "stamp"),
                interval_s=t.get("interval", _positive_duration, 1.0),
                summary_s=t.get("summary", _positive_duration, 3600.0),
                params=t.get("params", _any_map, MappingProxyType({})),
                enabled=t.get("enabled", _bool, True),
            )
        )
        t.finish()

    exporters = []
    exporter_names: set[str] = set()
    for t in root.array("exporters"):
        name = t.get("name", _printable, None, required=True)
        if name in exporter_names:
            raise t.error("name", f"duplicate exporter name '{name}'")
        exporter_names.add(name)
        kind = t.get("type", _printable, None, required=True)
        options = {k: v for k, v in t.data.items() if k not in {"name", "type"}}
        t.used.update(options)
        exporters.append(ExporterConfig(name=name, type=kind, options=MappingProxyType(options)))
        t.finish()

    root.finish()
    return AgentConfig(
        schema_version=version,
        agent=agent,
        privacy=privacy,
        store=store,
        reference=reference,
        fair_use=fair_use,
        jobs=tuple(jobs),
        streams=tuple(streams),
        exporters=tuple(exporters),
        source=file,
    )


_SCALAR_SECTIONS = ("agent", "privacy", "store", "reference", "fair_use")


def _set_path(doc: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    section, _, key = dotted.partition(".")
    if not key or "." in key:
        raise ConfigError(f"override '{dotted}' must be SECTION.KEY", file=origin)
    if section not in _SCALAR_SECTIONS:
        raise ConfigError(
            f"cannot override section '{section}'",
            file=origin,
            key=dotted,
            hint=unknown_name_hint(section, _SCALAR_SECTIONS),
        )
    table = doc.setdefault(section, {})
    if not isinstance(table, dict):
        raise ConfigError("must be a table", file=origin, key=section)
    table[key] = value


def environment_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``QOS_<SECTION>_<KEY>`` variables as ``section.key`` → value."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        for section in sorted(_SCALAR_SECTIONS, key=len, reverse=True):
            if rest.startswith(section + "_"):
                out[f"{section}.{rest[len(section) + 1 :]}"] = value
                break
    return out


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """Read a config file (or the embedded default), apply environment and CLI overrides."""
    if path is None:
        file, text = "<embedded default: configs/local.toml>", embedded_default_text()
    else:
        file = str(path)
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("no such file", file=file) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", file=file) from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=file) from exc
    origins: dict[str, str] = {}
    for dotted, value in environment_overrides(environ).items():
        origin = "environment QOS_" + dotted.replace(".", "_").upper()
        _set_path(doc, dotted, value, origin)
        origins[dotted] = origin
    for dotted, value in (overrides or {}).items():
        _set_path(doc, dotted, value, "command line")
        origins[dotted] = f"command line --set {dotted}"
    try:
        config = parse_config(doc, file=file)
        return replace(config, origins=MappingProxyType(origins))
    except ConfigError as exc:
        if exc.key in origins:  # the bad value came from an override, not from the file
            raise ConfigError(
                exc.message, file=origins[exc.key], key=exc.key, hint=exc.hint
            ) from None
        raise


def embedded_default_text() -> str:
    """The default config shipped in the wheel (``configs/local.toml``: loopback only)."""
    packaged = Path(__file__).parent / "data" / "local.toml"
    source_tree = Path(__file__).resolve().parent.parent / "configs" / "local.toml"
    for candidate in (packaged, source_tree):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise ConfigError(
        "the embedded default config is missing from this installation", file=str(packaged)
    )
