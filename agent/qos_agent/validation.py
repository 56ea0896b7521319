"""The one complete check of an agent config, run before anything starts.

``check-config``, ``run``, ``once`` and a SIGHUP reload all call :func:`validate_config`
after :func:`qos.config.load_config` has checked keys, types and units, so whatever
``check-config`` accepts can run, and whatever would fail at run time fails here instead,
with the file, the key and a hint (exit 2).  What :mod:`qos.config` cannot know lives here:
the collectors and their declared parameters, the reference services, the exporters, the
continuous streams, and whether the store, the exporter files and the bind address can be
used on this host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qos.config import AgentConfig, JobConfig, StreamConfig
from qos.errors import ConfigError, QosError, StoreError
from qos.paths import writable_file_problem
from qos.store import SqliteStore
from qos.suggest import unknown_name_hint
from qos_agent import collectors
from qos_agent.collectors.base import resolve_params
from qos_agent.exporters import check_exporters
from qos_agent.isolation import fork_available, run_in_child
from qos_agent.reference import PREFIX, service_names
from qos_agent.runtime import data_dir_for

STREAM_COLLECTOR = "stamp"
STREAM_PARAMS = ("timeout", "size", "ssid")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SYS_NET = Path("/sys/class/net")
#: the config check in a child process: opening the store and binding a socket take well
#: under a second; past this the child is killed and the config refused
CHECK_TIME_LIMIT_S = 60.0


def validate_config(config: AgentConfig, extra_jobs: Iterable[JobConfig] = ()) -> AgentConfig:
    """Raise :class:`ConfigError` (file, key, hint) for anything that would fail at run time."""
    with _in_file(config.source, config.origins):
        _check_store(config)
        _check_bind(config)
        _check_fair_use(config)
        for index, job in enumerate(config.jobs):
            check_job(job, f"jobs[{index}] ({job.name})")
        for index, stream in enumerate(config.streams):
            stream_settings(stream, f"streams[{index}]")
        check_exporters(config.exporters)
        _check_distinct_files(config)
    with _in_file("command line"):
        for job in extra_jobs:
            check_job(job, "")
    return config


def validate_in_child(config: AgentConfig, extra_jobs: Iterable[JobConfig] = ()) -> AgentConfig:
    """:func:`validate_config` in a forked child (where the platform forks).

    The check imports every configured collector (``http`` brings ``http.client`` and
    ``ssl``, a few MB); the daemon needs none of them afterwards, since each job runs in a
    child of its own (:mod:`qos_agent.isolation`).  The child answers with the error's
    message, file, key and hint, raised here as the same :class:`ConfigError`.
    """
    if not fork_available():
        return validate_config(config, extra_jobs)
    jobs = tuple(extra_jobs)

    def check() -> bytes:
        try:
            validate_config(config, jobs)
        except ConfigError as exc:
            fields = {"message": exc.message, "file": exc.file, "key": exc.key, "hint": exc.hint}
            return json.dumps(fields).encode("utf-8")
        return b""

    result = run_in_child(check, timeout_s=CHECK_TIME_LIMIT_S)
    if result.output is None:
        raise ConfigError(f"the config check failed: its process {result.problem}")
    if result.output:
        raise ConfigError(**json.loads(result.output))
    return config


@contextmanager
def _in_file(source: str, origins: Mapping[str, str] | None = None) -> Iterator[None]:
    """Errors raised inside name ``source`` as their file unless they already name one, or
    the environment variable / ``--set`` that overrode the key (``origins``)."""
    try:
        yield
    except ConfigError as exc:
        if exc.file:
            raise
        origin = (origins or {}).get(exc.key or "", source)
        raise ConfigError(exc.message, file=origin, key=exc.key, hint=exc.hint) from None


def check_job(job: JobConfig, where: str) -> None:
    """The collector exists, its parameters resolve, a reference target names a service.

    ``where`` prefixes the keys (``jobs[3] (name)``); empty for a job given on the command line.
    """
    where = f"{where}." if where else ""
    try:
        collector = collectors.get(job.collector)
    except QosError as exc:
        raise ConfigError(
            str(exc), key=f"{where}collector", hint="'qos-agent list' shows the collectors"
        ) from None
    try:
        collector.resolve(job.params)
    except QosError as exc:
        raise ConfigError(
            str(exc),
            key=f"{where}params",
            hint=f"'qos-agent list' documents the parameters of '{job.collector}'",
        ) from None
    _check_reference_target(job.target, f"{where}target")


def _check_reference_target(target: str, key: str) -> None:
    if target.startswith(PREFIX):
        service = target[len(PREFIX) :]
        if service not in service_names():
            raise ConfigError(
                f"unknown reference service '{service}'",
                key=key,
                hint=unknown_name_hint(service, service_names()),
            )


def stream_settings(stream: StreamConfig, where: str) -> dict[str, Any]:
    """A continuous stream's resolved parameters (``timeout``, ``size``, ``ssid``), checked
    against its rhythm: ``0 < interval <= summary`` and ``0 < timeout < summary``."""
    if stream.collector != STREAM_COLLECTOR:
        raise ConfigError(
            f"streams support only the '{STREAM_COLLECTOR}' collector, not '{stream.collector}'",
            key=f"{where}.collector",
            hint=f"collector = '{STREAM_COLLECTOR}'",
        )
    specs = tuple(
        s for s in collectors.get(STREAM_COLLECTOR).param_specs if s.name in STREAM_PARAMS
    )
    try:
        params = resolve_params(specs, stream.params, f"{STREAM_COLLECTOR} stream")
    except QosError as exc:
        raise ConfigError(
            str(exc), key=f"{where}.params", hint="stream parameters: " + ", ".join(STREAM_PARAMS)
        ) from None
    if stream.interval_s > stream.summary_s:
        raise ConfigError(
            f"interval ({stream.interval_s:g} s) is longer than the summary window "
            f"({stream.summary_s:g} s)",
            key=f"{where}.interval",
            hint="make interval shorter than summary",
        )
    if not 0 < params["timeout"] < stream.summary_s:
        raise ConfigError(
            f"timeout {params['timeout']:g} s must be longer than zero and shorter than the "
            f"summary window ({stream.summary_s:g} s)",
            key=f"{where}.params.timeout",
            hint='e.g. timeout = "2s"',
        )
    _check_stream_target(stream.target, f"{where}.target")
    return params


def _check_stream_target(target: str, key: str) -> None:
    if target.startswith(PREFIX):
        _check_reference_target(target, key)
        return
    from qos_agent.collectors.stamp import parse_target

    try:
        parse_target(target)
    except ValueError as exc:
        raise ConfigError(str(exc), key=key, hint="write HOST or HOST:PORT") from None


def _check_store(config: AgentConfig) -> None:
    path = config.store.resolved_path()
    problem = writable_file_problem(path)
    if problem is None and path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                problem = f"{path} exists and is not a qos-toolkit store (SQLite) file"
    if problem is None and path.is_file() and path.stat().st_size > 0:
        problem = _store_open_problem(path)
    if problem:
        raise ConfigError(
            problem, key="store.path", hint="name a new or existing store file you can write"
        )
    if config.agent.id == "auto":
        _check_agent_id_file(data_dir_for(path) / "agent-id")


def _check_distinct_files(config: AgentConfig) -> None:
    """No exporter appends to the store or to another exporter's file (it would corrupt
    the database or interleave two streams of lines)."""
    seen = {os.path.realpath(config.store.resolved_path()): "store.path"}
    for exporter in config.exporters:
        for option in ("path", "textfile"):  # a Prometheus exporter may have neither
            raw = exporter.options.get(option)
            if not isinstance(raw, str) or not raw:
                continue
            path = os.path.realpath(Path(raw).expanduser())
            key = f"exporters.{exporter.name}.{option}"
            if path in seen:
                raise ConfigError(
                    f"{path} is already used by {seen[path]}",
                    key=key,
                    hint="give each its own file",
                )
            seen[path] = key


def _store_open_problem(path: Path) -> str | None:
    """Why an existing store cannot be used (newer schema, damaged), opened read-only."""
    try:
        with SqliteStore(path, readonly=True):
            return None
    except StoreError as exc:
        return str(exc)


def _check_agent_id_file(id_file: Path) -> None:
    """The random agent id kept next to the store can be read (or created)."""
    problem = None
    if id_file.exists() and not id_file.is_file():
        problem = f"{id_file} is not a regular file"
    elif id_file.exists():
        try:
            id_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot read the agent id in {id_file}: {exc}"
    if problem:
        raise ConfigError(
            problem,
            key="agent.id",
            hint="remove that file (a new random id is made) or set agent.id",
        )


def _check_bind(config: AgentConfig) -> None:
    """The reference services can listen on ``[reference] bind`` (a local address)."""
    if not config.reference.enabled:
        return
    bind = config.reference.bind
    import socket  # the check runs in a child process; the daemon need not carry it

    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((bind, 0))
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {bind!r}: {exc.strerror or exc} (not a local address?)",
            key="reference.bind",
            hint="use a local address such as 127.0.0.1",
        ) from None


def _check_fair_use(config: AgentConfig) -> None:
    """Every interface the cross-traffic guard should watch exists on this host."""
    text = config.fair_use.interface
    if not text or text == "all" or not _SYS_NET.is_dir():
        return
    present = sorted(p.name for p in _SYS_NET.iterdir())
    for name in (n.strip() for n in text.split(",") if n.strip()):
        if name not in present:
            raise ConfigError(
                f"no network interface '{name}' on this host",
                key="fair_use.interface",
                hint=unknown_name_hint(name, present),
            )
