"""The daemon process on a real device: SIGTERM on a full disk, SIGHUP with a bad config."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from qos.serialization import loads
from tests.agent.conftest import cli_argv, cli_env
from tests.agent.field_helpers import fill, small_tmpfs, tmpfs_skip_reason

JOB = """
[[jobs]]
name = "{name}"
collector = "tcp_connect"
target = "@reference/tcp"
interval = "200ms"
params = {{ count = 100, interval = "1ms", timeout = "200ms" }}
"""


def _config(path: Path, store: Path, *, spill: Path | None = None, job: str = "ref") -> Path:
    spill_line = f'spill_dir = "{spill}"' if spill else ""
    path.write_text(
        f'[agent]\nid = "daemon"\ntimezone = "UTC"\n[store]\npath = "{store}"\n{spill_line}\n'
        + JOB.format(name=job)
    )
    return path


def _start(config: Path, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_argv("run", "--config", str(config), "--log-level", "INFO"),
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _jobs(store: Path) -> list[str]:
    with sqlite3.connect(store) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(labels_json, '$.job') FROM measurements ORDER BY mid"
            )
        ]


@pytest.mark.skipif(tmpfs_skip_reason() is not None, reason=str(tmpfs_skip_reason()))
def test_sigterm_on_a_full_disk_spills_and_the_next_start_imports_once(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    with small_tmpfs(tmp_path / "disk") as disk:
        store = disk / "store.sqlite"
        config = _config(tmp_path / "agent.toml", store, spill=spill)
        proc = _start(config, tmp_path)
        time.sleep(2.0)
        filler = fill(disk)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        assert "cannot store measurement" in stderr
        spills = sorted(spill.glob("qos-spill-*.jsonl"))
        assert len(spills) == 1, stderr
        spilled = [loads(line).id for line in spills[0].read_text().splitlines()]
        assert spilled
        filler.unlink()
        before = len(_jobs(store))
        for _ in range(2):  # two starts: the second imports nothing again
            run = subprocess.run(
                cli_argv("run", "--config", str(config), "--max-runs", "1"),
                env=cli_env(tmp_path),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
        with sqlite3.connect(store) as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM measurements")]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(ids) == len(set(ids)) == before + len(spilled) + 2
        assert set(spilled) <= set(ids)
        assert list(spill.glob("qos-spill-*.jsonl")) == []


def test_sighup_reloads_and_keeps_the_old_config_when_the_new_one_is_invalid(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.sqlite"
    config = _config(tmp_path / "agent.toml", store, job="first")
    proc = _start(config, tmp_path)
    try:
        time.sleep(2.0)
        config.write_text(config.read_text() + "\n[store]\nmax_sise = 1\n")  # invalid TOML table
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        _config(config, store, job="second")
        config.write_text(config.read_text().replace("[agent]", "[agent]\nbogus_key = 1", 1))
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert proc.poll() is None
        kept = len(_jobs(store))
        _config(config, store, job="second")
        proc.send_signal(signal.SIGHUP)
        time.sleep(2.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    if os.geteuid() == 0:  # the daemon recommends the unprivileged systemd unit
        assert "running as root" in stderr and "qos-agent.service" in stderr
    refused = [line for line in stderr.splitlines() if "reload refused" in line]
    assert len(refused) == 2, stderr
    assert str(config) in refused[1] and "agent.bogus_key" in refused[1]
    jobs = _jobs(store)
    assert set(jobs[:kept]) == {"first"}  # the invalid files changed nothing
    assert jobs[-1] == "second" and "second" in jobs[kept:]
