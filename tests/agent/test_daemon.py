"""The daemon: keeps measuring through failures and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.agent.conftest import cli_argv, cli_env


def _config(tmp_path: Path, closed_port: int) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(f"""
[store]
path = "{tmp_path / "store.sqlite"}"

[[jobs]]
name = "reference"
collector = "tcp_connect"
target = "@reference/tcp"
interval = "300ms"
params = {{ count = 3, interval = "10ms", timeout = "200ms" }}

[[jobs]]
name = "closed-port"
collector = "tcp_connect"
target = "127.0.0.1:{closed_port}"
interval = "300ms"
params = {{ count = 2, interval = "10ms", timeout = "200ms" }}
""")
    return config


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_survives_unreachable_targets_and_stops_cleanly(tmp_path: Path, signum) -> None:
    config = _config(tmp_path, _closed_port())
    proc = subprocess.Popen(
        cli_argv("run", "--config", str(config)),
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    assert proc.poll() is None, proc.communicate()[1]  # still running despite failures
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    store = tmp_path / "store.sqlite"
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT json_extract(labels_json, '$.job'), status, "
            "(SELECT COUNT(*) FROM probes p WHERE p.mid = m.mid), "
            "(SELECT COUNT(*) FROM probes p WHERE p.mid = m.mid AND p.rtt_s IS NULL) "
            "FROM measurements m"
        ).fetchall()
    reference = [r for r in rows if r[0] == "reference"]
    closed = [r for r in rows if r[0] == "closed-port"]
    assert len(reference) >= 3 and len(closed) >= 3
    assert all(r[1] == "ok" and r[2] == 3 for r in reference)
    # unreachable is a data point: every probe recorded, all lost
    assert all(r[1] == "unreachable" and r[2] == 2 and r[3] == 2 for r in closed)


def test_sigkill_of_the_daemon_loses_no_committed_record(tmp_path: Path) -> None:
    config = _config(tmp_path, _closed_port())
    store = tmp_path / "store.sqlite"
    committed_before_kill = 0
    for _ in range(4):
        proc = subprocess.Popen(
            cli_argv("run", "--config", str(config)),
            env=cli_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.2)
        if store.exists():
            with sqlite3.connect(store) as conn:
                committed_before_kill = conn.execute(
                    "SELECT COUNT(*) FROM measurements"
                ).fetchone()[0]
        proc.kill()
        proc.wait(timeout=10)
        with sqlite3.connect(store) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            after = conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        assert after >= committed_before_kill > 0


def test_continuous_stream_records_one_measurement_per_window(tmp_path: Path) -> None:
    config = tmp_path / "stream.toml"
    config.write_text(f"""
[store]
path = "{tmp_path / "store.sqlite"}"

[[streams]]
name = "always-on"
target = "@reference/stamp"
interval = "100ms"
summary = "1s"
params = {{ timeout = "300ms" }}
""")
    proc = subprocess.Popen(
        cli_argv("run", "--config", str(config)),
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.6)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    with sqlite3.connect(tmp_path / "store.sqlite") as conn:
        rows = conn.execute(
            "SELECT status, json_extract(labels_json, '$.stream'), "
            "(SELECT COUNT(*) FROM probes p WHERE p.mid = m.mid), "
            "(SELECT COUNT(*) FROM probes p WHERE p.mid = m.mid AND p.rtt_s IS NULL) "
            "FROM measurements m WHERE collector = 'stamp' ORDER BY started_at_us"
        ).fetchall()
    full = rows[:-1]  # the last window is the partial one flushed on stop
    assert len(full) >= 2
    for status, stream, probes, lost in full:
        assert (status, stream) == ("ok", "always-on")
        assert 8 <= probes <= 11 and lost == 0  # ~10 probes per 1 s window at 100 ms
