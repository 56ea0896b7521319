"""The ``qos-agent`` commands, run as a user runs them (a real subprocess, real sockets)."""

from __future__ import annotations

import itertools
import json
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.agent.conftest import icmp_unavailable_reason

REPO = Path(__file__).resolve().parents[2]


def _json(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def test_once_icmp_200_probes_at_10ms(run_cli, tmp_path: Path) -> None:
    """200 probes, none lost, sent 10 ms apart within 1 ms.

    The schedule is the tool's; the operating system may still run the process late when
    the machine is overloaded (a plain sleep loop here shows a p99 lateness of ~2 ms under
    load).  So: every run must keep the median gap within 50 µs of 10 ms, and at least one
    of up to three runs must have *every* gap within 1 ms — a wrong schedule fails all three.
    """
    reason = icmp_unavailable_reason()
    if reason:
        pytest.skip(f"ICMP cannot run here: {reason}")
    store = tmp_path / "s.sqlite"
    worst_by_run = []
    for _attempt in range(3):
        proc = run_cli(
            "once",
            "icmp",
            "127.0.0.1",
            "--param",
            "count=200",
            "--param",
            "interval=10ms",
            "--json",
            "--store",
            str(store),
        )
        assert proc.returncode == 0, proc.stderr
        doc = _json(proc)
        assert doc["status"] == "ok"
        fields = doc["result"]["probe_fields"]
        probes = [dict(zip(fields, row, strict=True)) for row in doc["result"]["probes"]]
        assert len(probes) == 200
        assert doc["summary"]["sent"] == 200
        assert sum(p["rtt_s"] is None for p in probes) == 0
        assert doc["summary"]["loss_ratio"] == 0.0
        assert all(p["ttl"] == 64 for p in probes)  # Linux loopback replies keep TTL 64
        offsets = [p["send_offset_s"] for p in probes]
        gaps = sorted(b - a for a, b in itertools.pairwise(offsets))
        assert abs(gaps[len(gaps) // 2] - 0.010) <= 50e-6
        worst_by_run.append(max(abs(g - 0.010) for g in gaps))
        if worst_by_run[-1] <= 0.001:
            break
    assert min(worst_by_run) <= 0.001, (
        f"send gaps deviated from 10 ms by up to {[round(w * 1e3, 3) for w in worst_by_run]} ms"
    )
    # every run's record was stored with every probe
    with sqlite3.connect(store) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM probes").fetchone()
    assert count == 200 * len(worst_by_run)


def test_once_tcp_connect_to_listening_socket_reports_rtt(run_cli) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        proc = run_cli(
            "once",
            "tcp_connect",
            f"127.0.0.1:{port}",
            "--param",
            "count=5",
            "--param",
            "interval=20ms",
            "--json",
            "--no-store",
        )
    assert proc.returncode == 0, proc.stderr
    doc = _json(proc)
    assert doc["status"] == "ok"
    rtt = doc["summary"]["rtt_median_s"]
    assert rtt is not None and 0 < rtt < 0.05
    assert doc["summary"]["received"] == 5


def test_once_tcp_connect_closed_port_is_unreachable_with_reason(run_cli) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    proc = run_cli(
        "once", "tcp_connect", f"127.0.0.1:{port}", "--param", "count=3", "--json", "--no-store"
    )
    assert proc.returncode == 1
    doc = _json(proc)
    assert doc["status"] == "unreachable"
    assert "refused" in doc["error"].lower()
    assert doc["summary"]["loss_ratio"] == 1.0
    assert doc["summary"]["sent"] == 3


def test_silent_tcp_target_times_out_with_full_loss(run_cli, isolated_netns) -> None:
    ns = isolated_netns()
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "9",
            "-j",
            "DROP",
        ],
        check=True,
    )
    proc = run_cli(
        "once",
        "tcp_connect",
        "127.0.0.1:9",
        "--param",
        "count=3",
        "--param",
        "timeout=300ms",
        "--json",
        "--no-store",
        netns=ns,
    )
    assert proc.returncode == 1, proc.stderr
    doc = _json(proc)
    assert doc["status"] == "timeout"
    assert doc["summary"]["loss_ratio"] == 1.0
    assert doc["duration_s"] < 2.0  # within the configured timeout, not a hang


def test_silent_icmp_target_times_out_with_full_loss(run_cli, isolated_netns) -> None:
    ns = isolated_netns()
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "icmp",
            "--icmp-type",
            "echo-request",
            "-j",
            "DROP",
        ],
        check=True,
    )
    proc = run_cli(
        "once",
        "icmp",
        "127.0.0.1",
        "--param",
        "count=5",
        "--param",
        "interval=10ms",
        "--param",
        "timeout=300ms",
        "--json",
        "--no-store",
        netns=ns,
    )
    assert proc.returncode == 1, proc.stderr
    doc = _json(proc)
    assert doc["status"] == "timeout"
    assert doc["summary"]["sent"] == 5
    assert doc["summary"]["loss_ratio"] == 1.0
    assert doc["duration_s"] < 2.0


def test_unknown_collector_exits_2_with_hint(run_cli) -> None:
    proc = run_cli("once", "icmpp", "127.0.0.1")
    assert proc.returncode == 2
    assert "unknown collector 'icmpp'" in proc.stderr
    assert "did you mean 'icmp'" in proc.stderr


def test_unknown_parameter_exits_2_with_hint(run_cli) -> None:
    proc = run_cli("once", "icmp", "127.0.0.1", "--param", "cout=3")
    assert proc.returncode == 2
    assert "cout" in proc.stderr and "did you mean 'count'" in proc.stderr


def test_bad_parameter_value_exits_2(run_cli) -> None:
    proc = run_cli("once", "tcp_connect", "127.0.0.1:1", "--param", "interval=10 parsecs")
    assert proc.returncode == 2
    assert "interval" in proc.stderr and "unknown unit" in proc.stderr


def test_bad_config_exits_2_naming_file_and_key(run_cli, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[[jobs]]\nname = "x"\ncollector = "icmp"\ntarget = "127.0.0.1"\nintervall = "5min"\n'
    )
    proc = run_cli("check-config", str(config))
    assert proc.returncode == 2
    assert str(config) in proc.stderr
    assert "jobs[0].intervall" in proc.stderr and "did you mean 'interval'" in proc.stderr
    proc = run_cli("run", "--config", str(config), "--once")
    assert proc.returncode == 2 and "intervall" in proc.stderr


def test_check_config_rejects_unknown_collector_in_job(run_cli, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[jobs]]\nname = "x"\ncollector = "tcp_conect"\ntarget = "h:1"\n')
    proc = run_cli("check-config", str(config))
    assert proc.returncode == 2
    assert "jobs[0] (x).collector" in proc.stderr and "tcp_connect" in proc.stderr


def test_check_config_accepts_the_shipped_local_config(run_cli) -> None:
    proc = run_cli("check-config", str(REPO / "configs" / "local.toml"))
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


def test_list_reports_every_collector_with_can_run(run_cli) -> None:
    proc = run_cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    names = {r["name"] for r in rows}
    assert {"icmp", "tcp_connect"} <= names
    for row in rows:
        assert row["can_run"] == (row["reasons"] == [])
    tcp = next(r for r in rows if r["name"] == "tcp_connect")
    assert tcp["can_run"] is True


def test_run_once_on_embedded_default_stores_and_prints_summary(run_cli, tmp_path: Path) -> None:
    proc = run_cli("run", "--once")
    assert proc.returncode == 0, proc.stderr
    assert "tcp-connect-reference" in proc.stdout and "icmp-loopback" in proc.stdout
    store = tmp_path / "xdg-data" / "qos-toolkit" / "measurements.sqlite"
    assert store.exists()
    with sqlite3.connect(store) as conn:
        rows = dict(conn.execute("SELECT collector, status FROM measurements").fetchall())
    assert rows["tcp_connect"] == "ok"
    assert rows["icmp"] in ({"skipped"} if icmp_unavailable_reason() else {"ok"})
