"""Strings from data and configuration reach terminals, CSV cells and log lines only
neutralised (qos.text_safety): no escape sequence, bell, carriage return, bidirectional
override or row-splitting newline gets through, 10 kB strings are cut, and CSV cells cannot
start a formula.  Each output is produced by the real command."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qos.records import Status
from qos.text_safety import TRUNCATION_MARKER
from qos_agent.cli import main as agent_main
from tests.agent.conftest import cli_argv, cli_env
from tests.analysis.synthetic import T0, rtt_measurement, write_store

# Clears the screen, retitles the window, rings the bell, reverses the line, and tries to
# start a fake table row / log line.  Its control characters make it unresolvable (IDNA
# refuses them), so using it as a target never leads to a DNS query.
HOSTILE = "\u202e127.0.0.1\x1b[2J\x1b]0;pwned\x07\r\nPASS  fake-row\u2028\x9b31m"
LONG = HOSTILE + "A" * 10_000
FAKE_LINE = "PASS  fake-row"


def assert_inert(text: str, max_line: int = 3000) -> None:
    """``text`` is plain lines: no control or format character but the newline between
    lines, no line starting where the hostile string tried to start one, no huge line."""
    for line in text.split("\n"):
        bad = [c for c in line if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029"]
        assert not bad, f"raw {bad!r} in {line[:120]!r}"
        assert not line.lstrip().startswith(FAKE_LINE), line[:120]
        assert len(line) <= max_line, f"line of {len(line)} characters"


def _run(argv: list[str], tmp_path: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=cli_env(tmp_path), **kw
    )


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    measurements = [
        rtt_measurement(
            rng, T0, 50, agent_id="agent-a", target=LONG, base_rtt_s=0.02, jitter_s=0.001
        ),
        rtt_measurement(
            rng, T0, 0, agent_id="agent-a", target='=HYPERLINK("http://x")', status=Status.ERROR
        ),
    ]
    return write_store(tmp_path / "hostile.sqlite", measurements, {"agent-a": "UTC"})


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_qos_score_output_is_inert(fmt: str, hostile_store: Path, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "qos_analysis.cli", "score", "--data", str(hostile_store)]
    proc = _run([*argv, "--profile", "y1541/class0", "--window", "all", "--format", fmt], tmp_path)
    assert proc.returncode in (0, 3), proc.stderr
    assert "\\x1b[2J" in proc.stdout or "\\u001b[2J" in proc.stdout  # visible, not executed
    assert "\\u202e" in proc.stdout
    if fmt == "json":  # escaped, not cut: the document parses back to the original target
        assert_inert(proc.stdout, max_line=2 * len(LONG))
        targets = {v["target"] for v in json.loads(proc.stdout)["verdicts"]}
        assert LONG in targets
        return
    if fmt == "table":
        assert_inert(proc.stdout)
        return
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    cells = [cell for row in rows for cell in row]
    assert_inert("\n".join(cells), max_line=10_000 + len(TRUNCATION_MARKER))
    assert any(cell.endswith(TRUNCATION_MARKER) for cell in cells)
    assert not [
        cell for cell in cells if cell.startswith(("=", "+", "@", "-")) and not _number(cell)
    ]


def test_qos_agent_once_summary_is_inert(tmp_path: Path) -> None:
    argv = cli_argv("once", "tcp_connect", LONG + ":9", "-p", "count=1", "--no-store")
    proc = _run(argv, tmp_path)
    assert proc.returncode == 1, proc.stderr  # it ran and failed: the name cannot resolve
    assert_inert(proc.stdout)
    lines = proc.stdout.rstrip("\n").split("\n")
    assert len(lines) == 3  # header, rule, one row: the newline did not split the row
    assert "\\x1b]0;pwned\\x07" in lines[2] and "…[truncated]" in lines[2]
    assert "unreachable" in lines[2]


def test_qos_agent_list_is_inert(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from qos_agent.collectors.tcp_connect import TcpConnectCollector

    monkeypatch.setattr(TcpConnectCollector, "check", lambda self: [f"helper at {LONG}"])
    assert agent_main(["list", "--params"]) == 0
    out = capsys.readouterr().out
    assert_inert(out)
    reason = next(line for line in out.split("\n") if "cannot run: helper at" in line)
    assert "\\x1b[2J" in reason and reason.endswith("…[truncated]")


def test_qos_agent_export_csv_cells_are_inert_and_protected(
    hostile_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "csv"
    argv = cli_argv("export", "--format", "csv", "-o", str(out), "--store", str(hostile_store))
    proc = _run(argv, tmp_path)
    assert proc.returncode == 0, proc.stderr
    with (out / "measurements.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    targets = {row["target"] for row in rows}
    assert '\'=HYPERLINK("http://x")' in targets  # shown as text, not run as a formula
    long_target = next(t for t in targets if "pwned" in t)
    assert_inert(long_target, max_line=20_000)
    assert long_target.endswith("A" * 10_000)  # an export cuts nothing


def test_config_errors_and_reload_log_lines_are_inert(tmp_path: Path) -> None:
    hostile_key = "\x1b]0;pwned\x07\r\n" + FAKE_LINE + "\u202e"
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[agent]\n"{_toml_escape(hostile_key)}" = 1\n', encoding="utf-8")
    proc = _run(cli_argv("check-config", str(bad)), tmp_path)
    assert proc.returncode == 2
    assert_inert(proc.stderr)
    assert "unknown key" in proc.stderr and "\\x1b]0;pwned\\x07" in proc.stderr

    # The daemon's log: a SIGHUP reload of the same hostile document is refused in one line.
    store = tmp_path / "store.sqlite"
    good = tmp_path / "agent.toml"
    good.write_text(f'[store]\npath = "{store}"\n', encoding="utf-8")
    daemon = subprocess.Popen(
        cli_argv("run", "--config", str(good)),
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # imports done, handlers installed
        good.write_text(bad.read_text(encoding="utf-8"), encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=20)
    assert daemon.returncode == 0, stderr
    assert_inert(stderr)
    refused = [line for line in stderr.split("\n") if "reload refused" in line]
    assert len(refused) == 1 and "\\x1b]0;pwned\\x07\\x0d\\x0aPASS" in refused[0], stderr


def _toml_escape(text: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
