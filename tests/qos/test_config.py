"""qos.config: TOML into frozen dataclasses (docs/architecture.md §5).

One invalid fixture per validation rule lives in ``tests/data/configs/invalid-*.toml``; each
must fail with a ConfigError that names the file, the key and, where one exists, the fix.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from qos.config import (
    CONFIG_SCHEMA_VERSION,
    AgentConfig,
    ConfigError,
    environment_overrides,
    load_config,
    parse_config,
)
from qos.errors import QosError
from qos.paths import data_dir, default_store_path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "configs"
LOCAL = ROOT / "configs" / "local.toml"
EXAMPLE = ROOT / "configs" / "agent.example.toml"

NO_ENV: dict[str, str] = {}  # never let the developer's QOS_* variables leak into a test

DURATION_HINT = 'write a finite quantity with a unit, e.g. "30s", "5min", "250ms"'
SIZE_HINT = 'write a finite quantity with a unit, e.g. "50MB", "1GB"'
RATE_HINT = 'write a finite quantity with a unit, e.g. "2Mbit/s"'

# fixture → (key named in the error or None, message fragment, hint or None)
INVALID: dict[str, tuple[str | None, str, str | None]] = {
    "invalid-syntax.toml": (None, r"invalid TOML: .*line 5", None),
    "invalid-not-utf8.toml": (None, r"cannot read: .*utf-8", None),
    "invalid-unknown-top-level-key.toml": ("job", "unknown key", "did you mean 'jobs'?"),
    "invalid-unknown-section-key.toml": (
        "agent.timezon",
        "unknown key",
        "did you mean 'timezone'?",
    ),
    "invalid-unknown-job-key.toml": (
        "jobs[0].intervall",
        "unknown key",
        "did you mean 'interval'?",
    ),
    "invalid-unknown-stream-key.toml": (
        "streams[0].summry",
        "unknown key",
        "did you mean 'summary'?",
    ),
    "invalid-job-missing-target.toml": ("jobs[0].target", "is required", None),
    "invalid-exporter-missing-type.toml": ("exporters[0].type", "is required", None),
    "invalid-duplicate-job-name.toml": ("jobs[1].name", "duplicate job name 'loop'", None),
    "invalid-duplicate-stream-name.toml": (
        "streams[0].name",
        "duplicate job/stream name 'loop'",
        None,
    ),
    "invalid-duplicate-exporter-name.toml": (
        "exporters[1].name",
        "duplicate exporter name 'out'",
        None,
    ),
    "invalid-duration-unit.toml": (
        "jobs[0].interval",
        "unknown unit 'fortnights'.*known units",
        DURATION_HINT,
    ),
    "invalid-duration-without-unit.toml": ("jobs[0].interval", "needs a unit", DURATION_HINT),
    "invalid-negative-interval.toml": ("jobs[0].interval", "must not be negative", DURATION_HINT),
    "invalid-zero-interval.toml": ("jobs[0].interval", "must be longer than zero", None),
    "invalid-fair-use-time-unit.toml": ("fair_use.defer", "unknown unit 'moons'", DURATION_HINT),
    "invalid-fair-use-rate-unit.toml": ("fair_use.threshold", "unknown unit 'Mbit'", RATE_HINT),
    "invalid-budget-unit.toml": ("jobs[0].daily_budget", "unknown unit 'Mbit/s'", SIZE_HINT),
    "invalid-wrong-type-bool.toml": (
        "privacy.share_location",
        "expected true or false, got 'sometimes'",
        None,
    ),
    "invalid-wrong-type-string.toml": (
        "jobs[0].name",
        "expected a string, got int 42",
        'write it in quotes: "…"',
    ),
    "invalid-empty-target.toml": (
        "jobs[0].target",
        "must not be empty",
        "write a non-empty value",
    ),
    "invalid-labels-not-table.toml": (
        "agent.labels",
        "expected a table of strings",
        'write { key = "value" }',
    ),
    "invalid-params-not-table.toml": (
        "jobs[0].params",
        "expected a table",
        "write { key = value, … }",
    ),
    "invalid-section-not-table.toml": ("store", "must be a table", None),
    "invalid-jobs-not-array.toml": ("jobs", r"must be an array of tables \(\[\[jobs\]\]\)", None),
    "invalid-job-not-table.toml": ("jobs[0]", "must be a table", None),
    "invalid-newer-schema-version.toml": (
        "schema_version",
        f"config schema 2 is newer than this qos-toolkit supports \\({CONFIG_SCHEMA_VERSION}\\)",
        "upgrade qos-toolkit",
    ),
    "invalid-schema-version-zero.toml": ("schema_version", "invalid schema version 0", None),
    "invalid-schema-version-type.toml": ("schema_version", "expected an integer, got 1.5", None),
}


def test_every_invalid_fixture_has_an_expectation() -> None:
    on_disk = {p.name for p in FIXTURES.glob("invalid-*.toml")}
    assert on_disk == set(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_fixture_names_file_key_and_hint(name: str) -> None:
    key, fragment, hint = INVALID[name]
    path = FIXTURES / name
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=NO_ENV)
    error = info.value
    message = str(error)
    assert error.file == str(path)
    assert message.startswith(f"{path}: "), message
    assert re.search(fragment, message), message
    assert error.key == key
    if key is not None:
        assert f"key '{key}'" in message
    assert error.hint == hint
    if hint is not None:
        assert message.endswith(f"({hint})"), message
    assert isinstance(error, QosError)


def test_fixtures_are_otherwise_valid_toml() -> None:
    # Each fixture breaks exactly one rule; all but the syntax/encoding ones parse as TOML.
    for path in FIXTURES.glob("invalid-*.toml"):
        if path.name in {"invalid-syntax.toml", "invalid-not-utf8.toml"}:
            continue
        tomllib.loads(path.read_text(encoding="utf-8"))


def test_unknown_key_without_a_close_match_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"privacy": {"xyzzy": True}}, file="f.toml")
    assert info.value.hint == "valid names: label_keys, share_location, share_public_ip"


def test_missing_file() -> None:
    path = FIXTURES / "does-not-exist.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=NO_ENV)
    assert str(info.value) == f"{path}: no such file"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(str(tmp_path))}: cannot read"):
        load_config(tmp_path, environ=NO_ENV)


# -- valid configurations ------------------------------------------------------------------

LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)(:\d+)?$|^@reference/")


def test_local_config_loads_and_measures_only_loopback() -> None:
    config = load_config(LOCAL, environ=NO_ENV)
    assert isinstance(config, AgentConfig)
    assert config.source == str(LOCAL)
    assert config.schema_version == CONFIG_SCHEMA_VERSION
    assert config.jobs, "the default config must measure something"
    for job in config.jobs:
        assert LOOPBACK.match(job.target), f"{job.name} targets {job.target}"
        assert job.interval_s > 0
    for stream in config.streams:
        assert LOOPBACK.match(stream.target), f"{stream.name} targets {stream.target}"
    assert config.reference.bind.startswith("127.") or config.reference.bind == "::1"
    assert not config.privacy.share_location and not config.privacy.share_public_ip


def test_local_config_values_are_in_base_units() -> None:
    jobs = {j.name: j for j in load_config(LOCAL, environ=NO_ENV).jobs}
    icmp = jobs["icmp-loopback"]
    assert (icmp.collector, icmp.target) == ("icmp", "127.0.0.1")
    assert icmp.interval_s == 300.0  # "5min"
    assert icmp.spread_s == 30.0  # "30s"
    assert icmp.params["count"] == 3000  # collector parameters are passed through unparsed
    assert icmp.params["interval"] == "1ms"


def test_embedded_default_is_the_local_config() -> None:
    default = load_config(environ=NO_ENV)
    local = load_config(LOCAL, environ=NO_ENV)
    assert default.source.startswith("<embedded default")
    assert dataclasses.replace(default, source="x") == dataclasses.replace(local, source="x")


@pytest.mark.skipif(not EXAMPLE.exists(), reason="configs/agent.example.toml not written yet")
def test_example_config_loads() -> None:
    config = load_config(EXAMPLE, environ=NO_ENV)
    assert config.jobs
    names = [j.name for j in config.jobs] + [s.name for s in config.streams]
    assert len(names) == len(set(names))


def _known_keys(document: dict[str, Any], section: str | None) -> set[str]:
    """The keys the parser accepts in a section, read from its 'valid names' hint."""
    probe = {"zzzz_not_a_key": 1}
    if section is None:
        document = {**document, **probe}
    elif section in {"jobs", "streams"}:
        document = {section: [{"name": "n", "collector": "c", "target": "t", **probe}]}
    else:
        document = {section: probe}
    with pytest.raises(ConfigError) as info:
        parse_config(document)
    hint = info.value.hint or ""
    assert hint.startswith("valid names: "), hint
    return set(hint.removeprefix("valid names: ").split(", "))


@pytest.mark.skipif(not EXAMPLE.exists(), reason="configs/agent.example.toml not written yet")
def test_example_config_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    assert _known_keys({}, None) <= set(doc)
    for section in ("agent", "privacy", "store", "reference", "fair_use"):
        missing = _known_keys({}, section) - set(doc[section])
        assert not missing, f"[{section}] does not show {sorted(missing)}"
    comments = "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    for array in ("jobs", "streams"):
        shown = set().union(*(set(t) for t in doc[array]))
        for key in _known_keys({}, array) - shown:
            assert re.search(rf"\b{key}\b", comments), f"[[{array}]] key {key!r} undocumented"


def test_defaults_of_an_empty_document() -> None:
    config = parse_config({})
    assert config == AgentConfig(source="<config>")
    assert config.store.path == ""
    assert config.reference.enabled is True
    assert config.fair_use.threshold_bps == 2e6


def test_config_is_frozen() -> None:
    config = load_config(LOCAL, environ=NO_ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.store = config.store  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.jobs[0].params["count"] = 1  # type: ignore[index]


def test_units_in_every_section() -> None:
    config = parse_config(
        {
            "fair_use": {
                "interface": "eth0",
                "threshold": "5Mbit/s",
                "sample": "500ms",
                "defer": "10min",
            },
            "jobs": [
                {
                    "name": "a",
                    "collector": "c",
                    "target": "t",
                    "interval": "1h",
                    "spread": "90s",
                    "daily_budget": "2GB",
                    "enabled": False,
                }
            ],
            "streams": [{"name": "s", "target": "t", "interval": "100ms", "summary": "15min"}],
            "exporters": [{"name": "e", "type": "jsonl", "path": "/x", "fsync": True}],
        }
    )
    assert (config.fair_use.threshold_bps, config.fair_use.sample_s, config.fair_use.defer_s) == (
        5e6,
        0.5,
        600.0,
    )
    job = config.jobs[0]
    assert (job.interval_s, job.spread_s, job.daily_budget_bytes, job.enabled) == (
        3600.0,
        90.0,
        2e9,
        False,
    )
    stream = config.streams[0]
    assert (stream.collector, stream.interval_s, stream.summary_s) == ("stamp", 0.1, 900.0)
    exporter = config.exporters[0]
    assert (exporter.type, dict(exporter.options)) == ("jsonl", {"path": "/x", "fsync": True})


# -- precedence: command line > QOS_* environment > file > defaults ---------------------------


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        'schema_version = 1\n[store]\npath = "/from/file.sqlite"\n'
        '[agent]\ntimezone = "Europe/Berlin"\n',
        encoding="utf-8",
    )
    return path


def test_file_value_without_overrides(config_file: Path) -> None:
    config = load_config(config_file, environ=NO_ENV)
    assert config.store.path == "/from/file.sqlite"
    assert config.agent.timezone == "Europe/Berlin"


def test_environment_beats_file(config_file: Path) -> None:
    env = {"QOS_STORE_PATH": "/from/env.sqlite", "HOME": "/root", "QOSX_STORE_PATH": "/no"}
    config = load_config(config_file, environ=env)
    assert config.store.path == "/from/env.sqlite"
    assert config.agent.timezone == "Europe/Berlin"  # untouched keys keep the file's value


def test_command_line_beats_environment(config_file: Path) -> None:
    config = load_config(
        config_file,
        environ={"QOS_STORE_PATH": "/from/env.sqlite", "QOS_AGENT_TIMEZONE": "UTC"},
        overrides={"store.path": "/from/cli.sqlite"},
    )
    assert config.store.path == "/from/cli.sqlite"
    assert config.agent.timezone == "UTC"


def test_environment_values_are_parsed_like_file_values(config_file: Path) -> None:
    env = {
        "QOS_FAIR_USE_DEFER": "5min",  # a section name containing "_"
        "QOS_FAIR_USE_THRESHOLD": "10Mbit/s",
        "QOS_PRIVACY_SHARE_LOCATION": "true",
        "QOS_REFERENCE_ENABLED": "no",
    }
    config = load_config(config_file, environ=env)
    assert config.fair_use.defer_s == 300.0
    assert config.fair_use.threshold_bps == 10e6
    assert config.privacy.share_location is True
    assert config.reference.enabled is False


def test_environment_overrides_mapping() -> None:
    env = {"QOS_STORE_PATH": "a", "QOS_FAIR_USE_SAMPLE": "2s", "QOS_UNRELATED": "x", "PATH": "/bin"}
    assert environment_overrides(env) == {"store.path": "a", "fair_use.sample": "2s"}


def test_override_with_a_bad_value_names_the_key(config_file: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(config_file, environ=NO_ENV, overrides={"fair_use.defer": "soon"})
    assert info.value.key == "fair_use.defer"
    with pytest.raises(ConfigError) as info:
        load_config(config_file, environ={"QOS_AGENT_TIMEZON": "UTC"})
    assert info.value.key == "agent.timezon"
    assert info.value.hint == "did you mean 'timezone'?"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"store": "x"}, "must be SECTION.KEY"),
        ({"store.path.extra": "x"}, "must be SECTION.KEY"),
        ({"jobs.name": "x"}, "cannot override section 'jobs'"),
        ({"stor.path": "x"}, "did you mean 'store'"),
    ],
)
def test_malformed_overrides(config_file: Path, overrides: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)) as info:
        load_config(config_file, environ=NO_ENV, overrides=overrides)
    assert info.value.file == "command line"


# -- default locations (XDG) -----------------------------------------------------------------


def test_default_store_path_follows_xdg() -> None:
    assert data_dir({"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}) == Path("/xdg/qos-toolkit")
    assert data_dir({"HOME": "/home/u"}) == Path("/home/u/.local/share/qos-toolkit")
    assert default_store_path({"XDG_DATA_HOME": "/xdg"}) == Path(
        "/xdg/qos-toolkit/measurements.sqlite"
    )


def test_store_path_from_config_expands_the_home_directory() -> None:
    config = parse_config({"store": {"path": "~/m.sqlite"}})
    assert config.store.resolved_path() == Path("~/m.sqlite").expanduser()
