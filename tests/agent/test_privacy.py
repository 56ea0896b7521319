"""Privacy: label keys are allow-listed; ``qos-agent privacy`` says what leaves the device."""

from __future__ import annotations

from pathlib import Path

import pytest

from qos.config import parse_config
from qos.errors import ConfigError
from qos_agent import collectors, exporters
from qos_agent.privacy import COLLECTORS, EXPORTERS

REPO = Path(__file__).resolve().parents[2]


def test_label_keys_outside_the_allow_list_are_refused_with_file_and_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"agent": {"labels": {"owner": "Jane Doe"}}}, file="a.toml")
    assert info.value.file == "a.toml" and info.value.key == "agent.labels.owner"
    job = {"name": "j", "collector": "icmp", "target": "127.0.0.1", "labels": {"email": "x"}}
    with pytest.raises(ConfigError) as info:
        parse_config({"jobs": [job]}, file="a.toml")
    assert info.value.key == "jobs[0].labels.email"
    config = parse_config(
        {"privacy": {"label_keys": ["room"]}, "agent": {"labels": {"room": "attic"}}}
    )
    assert dict(config.agent.labels) == {"room": "attic"}


def test_every_collector_and_exporter_type_is_documented() -> None:
    doc = (REPO / "docs/privacy.md").read_text(encoding="utf-8")
    assert set(collectors.names()) == set(COLLECTORS)
    assert set(exporters.types()) <= set(EXPORTERS)
    for name in [*collectors.names(), *exporters.types()]:
        assert f"| `{name}` |" in doc, name


def test_privacy_command_reports_what_leaves_the_device(tmp_path: Path, run_cli) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""
[agent]
labels = {{ site = "flat 3" }}
[store]
path = "{tmp_path / "s.sqlite"}"
[[jobs]]
name = "local"
collector = "tcp_connect"
target = "127.0.0.1:9"
[[jobs]]
name = "remote"
collector = "dns"
target = "192.0.2.53"
[[exporters]]
name = "scrape"
type = "prometheus"
listen = "0.0.0.0:9464"
[[exporters]]
name = "file"
type = "jsonl"
path = "{tmp_path / "r.jsonl"}"
"""
    )
    result = run_cli("privacy", "--config", str(config))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "local (tcp_connect → 127.0.0.1:9): stays on this host" in out
    assert "remote (dns → 192.0.2.53): LEAVES THE DEVICE" in out
    assert "scrape (prometheus → 0.0.0.0:9464): REACHABLE FROM THE NETWORK" in out
    assert "file (jsonl → " in out and "local file" in out
    assert "labels on every record: site=flat 3" in out
