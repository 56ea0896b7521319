"""One validation for every command: what ``check-config`` refuses, ``run`` and ``once``
refuse the same way (exit 2, the file, the key, a hint, never a traceback), and what it
accepts runs.

Each rule has one generated invalid fixture: a valid loopback-only document with one
mutation.  ``run --once`` and ``once`` are run in-process (``qos_agent.cli.main``) so an
escaping exception fails the test with its traceback; every job targets the built-in
reference services on 127.0.0.1, so nothing is ever sent off the host.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qos.config import AgentConfig, load_config
from qos.errors import ConfigError
from qos_agent.cli import main
from qos_agent.runtime import AgentRuntime
from qos_agent.validation import validate_config
from tests.agent.conftest import cli_argv, cli_env

ROOT = Path(__file__).resolve().parents[2]
OLD_FIXTURES = sorted((ROOT / "tests" / "data" / "configs").glob("invalid-*.toml"))

Doc = dict[str, Any]


def base_document(tmp: Path) -> Doc:
    """A valid document: one cheap loopback job, one stream, one exporter."""
    return {
        "schema_version": 1,
        "agent": {"id": "lab-agent", "timezone": "UTC", "labels": {"site": "lab"}},
        "store": {"path": str(tmp / "store.sqlite")},
        "reference": {"enabled": True, "bind": "127.0.0.1"},
        "jobs": [
            {
                "name": "tcp",
                "collector": "tcp_connect",
                "target": "@reference/tcp",
                "interval": "5min",
                "labels": {"room": "lab"},
                "params": {"count": 2, "interval": "10ms", "timeout": "1s"},
            }
        ],
        "streams": [
            {
                "name": "stream",
                "target": "@reference/stamp",
                "interval": "1s",
                "summary": "1min",
                "params": {"timeout": "2s", "size": 44},
            }
        ],
        "exporters": [{"name": "lines", "type": "jsonl", "path": str(tmp / "out.jsonl")}],
    }


def put(path: str, value: Any) -> Callable[[Doc, Path], None]:
    """A mutation setting ``a.b[0].c`` (``{tmp}`` in a string is the test's directory)."""

    def apply(doc: Doc, tmp: Path) -> None:
        node: Any = doc
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        v = value.replace("{tmp}", str(tmp)) if isinstance(value, str) else value
        if v is DELETE:
            del node[parts[-1]]
        else:
            node[parts[-1]] = v

    return apply


DELETE = object()


def job(**fields: Any) -> Callable[[Doc, Path], None]:
    """A mutation replacing fields of the first job (e.g. its collector and parameters)."""

    def apply(doc: Doc, _tmp: Path) -> None:
        doc["jobs"][0].update(fields)

    return apply


# rule → (mutation, key named in the error, message fragment)
RULES: dict[str, tuple[Callable[[Doc, Path], None], str, str]] = {
    "tz-unknown": (put("agent.timezone", "Mars/Olympus_Mons"), "agent.timezone", "unknown time"),
    "tz-relative-path": (
        put("agent.timezone", "../../../../etc/passwd"),
        "agent.timezone",
        "unknown time zone",
    ),
    "tz-absolute-path": (put("agent.timezone", "/etc/localtime"), "agent.timezone", "unknown"),
    "tz-nul": (put("agent.timezone", "UTC\x00"), "agent.timezone", "U+0000"),
    "id-escape": (put("agent.id", "lab\x1b[2J"), "agent.id", "U+001B"),
    "id-newline": (put("agent.id", "lab\nok"), "agent.id", "U+000A"),
    "id-bidi": (put("agent.id", "lab\u202eevil"), "agent.id", "U+202E"),
    "id-not-string": (put("agent.id", 7), "agent.id", "expected a string"),
    "label-value-control": (put("agent.labels.site", "a\x07b"), "agent.labels", "U+0007"),
    "label-key-control": (put("agent.labels", {"si\rte": "x"}), "agent.labels", "U+000D"),
    "label-not-string": (put("agent.labels.site", 5), "agent.labels", "expected a string"),
    "label-array": (put("agent.labels.site", ["a"]), "agent.labels", "expected a string"),
    "job-label-control": (put("jobs[0].labels.room", "\x1b]0;x\x07"), "jobs[0].labels", "U+001B"),
    "job-name-control": (put("jobs[0].name", "tcp\u2028x"), "jobs[0].name", "U+2028"),
    "job-target-control": (put("jobs[0].target", "127.0.0.1\r\n"), "jobs[0].target", "U+000D"),
    "job-unknown-collector": (put("jobs[0].collector", "tcp_conect"), "jobs[0].collector", "unk"),
    "job-unknown-param": (put("jobs[0].params.cout", 2), "jobs[0].params", "no parameter"),
    "job-param-range": (put("jobs[0].params.count", 0), "jobs[0].params", "below"),
    "job-param-array": (put("jobs[0].params.count", [1, 2]), "jobs[0].params", "an array"),
    "job-param-table": (put("jobs[0].params.count", {"a": 1}), "jobs[0].params", "a table"),
    "job-param-nan": (put("jobs[0].params.interval", math.nan), "jobs[0].params", "not finite"),
    "job-param-inf-int": (put("jobs[0].params.count", math.inf), "jobs[0].params", "not finite"),
    "job-param-fullwidth-digits": (put("jobs[0].params.count", "１２"), "jobs[0].params", "ASCII"),
    "interval-arabic-digits": (put("jobs[0].interval", "١٢min"), "jobs[0].interval", "cannot"),
    "job-param-fraction": (put("jobs[0].params.count", 1.5), "jobs[0].params", "integer"),
    "iperf3-fractional-seconds": (
        job(collector="iperf3", target="127.0.0.1:5201", params={"duration": "1.5s"}),
        "jobs[0].params",
        "whole seconds",
    ),
    "loaded-latency-congestion-without-iperf3": (
        job(collector="loaded_latency", params={"load": "http_throughput", "congestion": "cubic"}),
        "jobs[0].params",
        "applies only to load = iperf3",
    ),
    "job-unknown-reference": (
        put("jobs[0].target", "@reference/tcpp"),
        "jobs[0].target",
        "unknown reference service",
    ),
    "interval-nan": (put("jobs[0].interval", math.nan), "jobs[0].interval", "not finite"),
    "interval-inf": (put("jobs[0].interval", math.inf), "jobs[0].interval", "not finite"),
    "interval-huge-string": (put("jobs[0].interval", "1e400s"), "jobs[0].interval", "not finite"),
    "spread-inf": (put("jobs[0].spread", -math.inf), "jobs[0].spread", "not finite"),
    "interval-over-a-year": (put("jobs[0].interval", "1e15s"), "jobs[0].interval", "a year"),
    "spread-over-a-year": (put("jobs[0].spread", "400d"), "jobs[0].spread", "longer than a year"),
    "defer-over-a-year": (put("fair_use.defer", "1e300s"), "fair_use.defer", "longer than"),
    "summary-over-a-year": (put("streams[0].summary", "9000h"), "streams[0].summary", "a year"),
    "interval-array": (put("jobs[0].interval", ["5min"]), "jobs[0].interval", "must be a string"),
    "interval-table": (put("jobs[0].interval", {"s": 1}), "jobs[0].interval", "must be a string"),
    "budget-nan": (put("jobs[0].daily_budget", math.nan), "jobs[0].daily_budget", "not finite"),
    "threshold-array": (put("fair_use.threshold", [1]), "fair_use.threshold", "must be a string"),
    "fair-use-no-interface": (
        put("fair_use.interface", "qosnosuchif0"),
        "fair_use.interface",
        "no network interface",
    ),
    "exporter-unknown-type": (put("exporters[0].type", "jsonlines"), "type", "unknown exporter"),
    "exporter-missing-path": (put("exporters[0].path", DELETE), "path", "is required"),
    "exporter-path-number": (put("exporters[0].path", 3), "path", "non-empty string"),
    "exporter-path-directory": (put("exporters[0].path", "{tmp}"), "path", "is a directory"),
    "exporter-path-under-file": (
        put("exporters[0].path", "{tmp}/notes.txt/out.jsonl"),
        "path",
        "not a directory",
    ),
    "exporter-path-unwritable": (
        put("exporters[0].path", "/proc/qos-no-such-dir/out.jsonl"),
        "path",
        "cannot write",
    ),
    "exporter-path-is-the-store": (
        put("exporters[0].path", "{tmp}/store.sqlite"),
        "path",
        "already used by store.path",
    ),
    "exporter-unknown-option": (put("exporters[0].fsinc", True), "fsinc", "unknown exporter"),
    "exporter-fsync-string": (put("exporters[0].fsync", "yes"), "fsync", "true or false"),
    "bind-name": (put("reference.bind", "no-such-host.invalid"), "reference.bind", "IP address"),
    "bind-not-local": (put("reference.bind", "192.0.2.1"), "reference.bind", "cannot listen"),
    "bind-empty": (put("reference.bind", ""), "reference.bind", "must not be empty"),
    "stream-size-string": (put("streams[0].params.size", "big"), "streams[0].params", "size"),
    "stream-timeout-zero": (put("streams[0].params.timeout", "0s"), "streams[0].params", "below"),
    "stream-timeout-over-summary": (
        put("streams[0].summary", "1s"),
        "streams[0].params.timeout",
        "shorter than the summary",
    ),
    "stream-interval-over-summary": (
        put("streams[0].interval", "2min"),
        "streams[0].interval",
        "longer than the summary",
    ),
    "stream-unknown-param": (put("streams[0].params.count", 3), "streams[0].params", "no param"),
    "stream-ssid-string": (put("streams[0].params.ssid", "x"), "streams[0].params", "ssid"),
    "stream-collector": (put("streams[0].collector", "icmp"), "streams[0].collector", "only"),
    "stream-target-port": (put("streams[0].target", "127.0.0.1:http"), "streams[0].target", "port"),
    "stream-unknown-reference": (
        put("streams[0].target", "@reference/stamps"),
        "streams[0].target",
        "unknown reference service",
    ),
    "store-nul": (put("store.path", "{tmp}/s\x00.sqlite"), "store.path", "U+0000"),
    "exporter-path-nul": (put("exporters[0].path", "{tmp}/o\x00.jsonl"), "path", "NUL"),
    "store-newer-schema": (
        put("store.path", "{tmp}/newer.sqlite"),
        "store.path",
        "newer",
    ),
    "agent-id-file-is-a-directory": (put("agent.id", "auto"), "agent.id", "not a regular file"),
    "store-symlink-loop": (put("store.path", "{tmp}/loop"), "store.path", "loop of symbolic"),
    "store-directory": (put("store.path", "{tmp}"), "store.path", "is a directory"),
    "store-not-sqlite": (put("store.path", "{tmp}/notes.txt"), "store.path", "not a qos-toolkit"),
    "store-under-file": (put("store.path", "{tmp}/notes.txt/s.sqlite"), "store.path", "not a dir"),
}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("QOS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "notes.txt").write_text("not a database\n", encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "agent-id").mkdir()  # where an "auto" id would be kept: unusable
    with sqlite3.connect(tmp_path / "newer.sqlite") as db:  # a store from a newer version
        db.execute("PRAGMA user_version = 999")
        db.execute("CREATE TABLE t (x)")
    return tmp_path


def write_rule(rule: str, tmp: Path) -> Path:
    doc = base_document(tmp)
    RULES[rule][0](doc, tmp)
    path = tmp / f"invalid-{rule}.toml"
    path.write_bytes(tomli_w.dumps(doc).encode())
    return path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_base_document_is_valid_and_runs(isolated: Path, capsys) -> None:
    path = isolated / "valid.toml"
    path.write_bytes(tomli_w.dumps(base_document(isolated)).encode())
    code, out, err = run_cli(["check-config", str(path)], capsys)
    assert code == 0, err
    assert "ok (1 jobs, 1 streams, 1 exporters)" in out
    code, out, err = run_cli(["run", "--once", "--config", str(path)], capsys)
    assert code == 0, err
    assert "@reference/tcp" in out and " ok " in out
    assert (isolated / "out.jsonl").read_text(encoding="utf-8").count("\n") == 1


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_is_refused_alike_by_every_command(rule: str, isolated: Path, capsys) -> None:
    _mutate, key, fragment = RULES[rule]
    path = write_rule(rule, isolated)
    with pytest.raises(ConfigError) as caught:
        validate_config(load_config(path, environ={}))
    error = caught.value
    assert error.file == str(path)
    assert error.key is not None, error
    assert re.sub(r" \(.*?\)", "", error.key).endswith(key), error  # "jobs[0] (tcp).params"
    assert fragment in error.message, error
    assert error.hint, f"no hint: {error}"
    lines = set()
    for argv in (
        ["check-config", str(path)],
        ["run", "--once", "--config", str(path)],
        ["run", "--max-runs", "1", "--config", str(path)],  # the daemon
        ["once", "tcp_connect", "@reference/tcp", "-p", "count=1", "--config", str(path)],
    ):
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, out, err)
        assert out == "", (argv, out)  # nothing measured, nothing printed
        assert "Traceback" not in err
        lines.add(err)
    assert len(lines) == 1, lines  # the same message from each command
    assert str(path) in err and f"key '{error.key}'" in err and f"({error.hint})" in err
    assert not (isolated / "store.sqlite").exists()  # refused before anything started


@pytest.mark.parametrize("fixture", OLD_FIXTURES, ids=lambda p: p.name)
def test_shipped_invalid_fixtures_are_refused_alike(fixture: Path, isolated: Path, capsys) -> None:
    messages = set()
    for argv in (
        ["check-config", str(fixture)],
        ["run", "--once", "--config", str(fixture)],
        ["run", "--max-runs", "1", "--config", str(fixture)],  # the daemon
        ["once", "tcp_connect", "@reference/tcp", "-p", "count=1", "--config", str(fixture)],
    ):
        code, out, err = run_cli(argv, capsys)
        assert code == 2 and out == "" and "Traceback" not in err, (argv, out, err)
        assert str(fixture) in err
        messages.add(err)
    assert len(messages) == 1, messages


def test_overrides_are_validated_and_named_as_the_origin(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    path = isolated / "valid.toml"
    path.write_bytes(tomli_w.dumps(base_document(isolated)).encode())
    monkeypatch.setenv("QOS_REFERENCE_BIND", "192.0.2.1")  # not an address of this host
    for argv in (["check-config", str(path)], ["run", "--once", "-c", str(path)]):
        code, out, err = run_cli(argv, capsys)
        assert (code, out) == (2, ""), err
        assert err.startswith("qos-agent: error: environment QOS_REFERENCE_BIND: key "), err
    monkeypatch.delenv("QOS_REFERENCE_BIND")
    for argv in (["check-config", str(path)], ["run", "--once", "-c", str(path)]):
        code, out, err = run_cli([*argv, "--set", f"store.path={isolated}"], capsys)
        assert (code, out) == (2, ""), err
        assert err.startswith("qos-agent: error: command line --set store.path: key "), err
        assert "is a directory" in err


def test_command_line_job_errors_name_the_command_line(isolated: Path, capsys) -> None:
    code, out, err = run_cli(["once", "tcp_connect", "@reference/tcp", "-p", "count=[1]"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("qos-agent: error: command line: key 'params'"), err
    assert "'qos-agent list' documents the parameters" in err


# -- random documents ------------------------------------------------------------------

_SPECIAL = [
    *("5min", "10ms", "1e400s", "-1s", "2Mbit/s", "50MB", "UTC", "auto", "Europe/Berlin"),
    *("../../../../etc/passwd", "@reference/tcp", "@reference/x", "127.0.0.1", "stamp"),
    *("tcp_connect", "icmp", "jsonl", "::1", "0.0.0.0", "localhost", "true", "²", "1_0"),
    *("lo", "all", "nan s", "\x1b[2J"),
]
_texts = st.one_of(st.text(max_size=12), st.sampled_from(_SPECIAL))
_scalars = st.one_of(
    _texts,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
)
_PARAM_KEYS = ["count", "interval", "timeout", "size", "ssid", "direction", "streams", "bogus"]
_junk = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_PARAM_KEYS), inner)
    ),
    max_leaves=4,
)


def _mostly(*choices: Any) -> st.SearchStrategy[Any]:
    """Usually a plausible value (so validation gets deep), sometimes anything at all."""
    plausible = st.sampled_from(choices) if choices else _texts
    return st.one_of(plausible, plausible, plausible, _junk)


_durations = _mostly("10ms", "1s", "30s", "5min", 2, "0s", "2h")
_params = st.dictionaries(
    st.sampled_from(_PARAM_KEYS), _mostly("10ms", "1s", 2, 44, "64B", 0, "download"), max_size=3
)
_labels = st.dictionaries(st.sampled_from(["site", "isp", "x\ty"]), _mostly("lab", "a\x1b]0;b"))
_KEYS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "agent": {
        "id": _mostly("auto", "lab-1"),
        "timezone": _mostly("auto", "UTC", "Europe/Berlin", "Mars/Base"),
        "labels": _labels,
    },
    "privacy": {"share_location": _mostly(False, True), "share_public_ip": _mostly(False)},
    "store": {"path": _mostly("s.sqlite", "d/s.sqlite", "")},
    "reference": {"enabled": _mostly(True, False), "bind": _mostly("127.0.0.1", "::1")},
    "fair_use": {
        "interface": _mostly("", "lo", "all"),
        "threshold": _mostly("2Mbit/s", "1MB/s"),
        "sample": _durations,
        "defer": _durations,
    },
    "job": {
        "name": _mostly("a", "b"),
        "collector": _mostly("tcp_connect", "stamp", "http", "icmp", "dns", "iperf3"),
        "target": _mostly("@reference/tcp", "@reference/stamp", "127.0.0.1", "127.0.0.1:9"),
        "interval": _durations,
        "spread": _durations,
        "params": _params,
        "daily_budget": _mostly("10MB", "1GB"),
        "enabled": _mostly(True, False),
        "labels": _labels,
    },
    "stream": {
        "name": _mostly("s", "t"),
        "target": _mostly("@reference/stamp", "127.0.0.1:862", "[::1]:862"),
        "collector": _mostly("stamp", "icmp"),
        "interval": _durations,
        "summary": _durations,
        "params": _params,
        "enabled": _mostly(True, False),
    },
    "exporter": {
        "name": _mostly("x", "y"),
        "type": _mostly("jsonl", "csv"),
        "path": _mostly("out.jsonl", "d/out.jsonl", "."),
        "fsync": _mostly(False, True),
    },
}


@st.composite
def _table(draw: st.DrawFn, kind: str) -> Doc:
    keys = _KEYS[kind]
    chosen = draw(st.lists(st.sampled_from(sorted(keys)), unique=True, max_size=len(keys)))
    table = {key: draw(keys[key]) for key in chosen}
    if draw(st.integers(0, 19)) == 0:  # now and then a key that does not exist
        table[draw(st.sampled_from(["unknown", "intervall", "Name"]))] = draw(_junk)
    return table


_documents = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": _mostly(1),
        **{name: _table(name) for name in ("agent", "privacy", "store", "reference", "fair_use")},
        "jobs": st.lists(_table("job"), max_size=2),
        "streams": st.lists(_table("stream"), max_size=2),
        "exporters": st.lists(_table("exporter"), max_size=2),
    },
)


def _paths_inside(config: AgentConfig, root: Path) -> bool:
    paths = [config.store.resolved_path()]
    paths += [Path(str(e.options.get("path"))).expanduser() for e in config.exporters]
    return all(p.resolve().is_relative_to(root.resolve()) for p in paths)


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=_documents)
def test_random_documents_exit_0_or_2_never_a_traceback(
    document: Doc, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "random.toml"
    path.write_bytes(tomli_w.dumps(document).encode())
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QOS_")}
    cwd = Path.cwd()
    os.chdir(tmp_path)  # relative store and exporter paths land in the test's directory
    try:
        with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
            code, _out, err = run_cli(["check-config", str(path)], capsys)
            assert code in (0, 2), err
            assert "Traceback" not in err
            if code == 2:
                assert err.startswith(f"qos-agent: error: {path}"), err
                event("refused at " + re.sub(r"\[\d+\]|: .*", "", err.split("key '")[-1]))
                return
            event("accepted")
            # Accepted: the runtime opens the same store, identity and exporters.
            config = load_config(path, environ={})
            if _paths_inside(config, tmp_path):
                AgentRuntime(config).close()
    finally:
        os.chdir(cwd)


# -- SIGHUP reload -----------------------------------------------------------------------


def _daemon_config(tmp: Path, job: str, interval: str = "200ms") -> str:
    return f"""
[store]
path = "{tmp / "store.sqlite"}"

[[jobs]]
name = "{job}"
collector = "tcp_connect"
target = "@reference/tcp"
interval = "{interval}"
params = {{ count = 1, timeout = "200ms" }}
"""


def _jobs_stored(store: Path) -> list[str]:
    try:
        with sqlite3.connect(store) as db:
            rows = db.execute("SELECT labels_json FROM measurements ORDER BY mid").fetchall()
    except sqlite3.OperationalError:  # the daemon is still creating the store
        return []
    return [json.loads(labels)["job"] for (labels,) in rows]


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_sighup_reload_refuses_an_invalid_config_and_applies_a_valid_one(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(_daemon_config(tmp_path, "first"), encoding="utf-8")
    store = tmp_path / "store.sqlite"
    proc = subprocess.Popen(
        cli_argv("run", "--config", str(config), "--log-level", "INFO"),
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: store.exists() and "first" in _jobs_stored(store))
        # Invalid (an unknown time zone that is a path): refused, the daemon keeps measuring.
        bad = _daemon_config(tmp_path, "second") + '\n[agent]\ntimezone = "../../etc/passwd"\n'
        config.write_text(bad, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        before = len(_jobs_stored(store))
        assert _wait_for(lambda: len(_jobs_stored(store)) >= before + 3)
        assert "second" not in _jobs_stored(store)
        assert proc.poll() is None
        # Valid: applied after the running job.
        config.write_text(_daemon_config(tmp_path, "third"), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        assert _wait_for(lambda: "third" in _jobs_stored(store))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    refused = [line for line in stderr.splitlines() if "reload refused" in line]
    assert len(refused) == 1, stderr
    assert f"{config}: key 'agent.timezone': unknown time zone" in refused[0]
    assert "second" not in _jobs_stored(store)
