"""The terminal verdict table: readable ids, named columns, reasons in the table's units,
window counts, and data strings that cannot drive the terminal."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import numpy as np

from qos_analysis import load, score
from qos_analysis.scoring import overall_outcome
from qos_analysis.verdict_table import print_verdict_table
from tests.analysis.synthetic import T0, rtt_measurement, write_store

AGENT = "0123456789abcdef0123456789abcdef"
HOSTILE_TARGET = "\u202e198.18.0.1\x1b[2J\x1b]0;x\x07\nPASS  fake-row"


def _table(tmp_path: Path, measurements: list, profile: str = "y1541/class0", **kw) -> str:
    path = write_store(tmp_path / "s.sqlite", measurements, {AGENT: "UTC"})
    data = load(path)
    verdicts = score(data, profile, **kw)
    out = io.StringIO()
    print_verdict_table(verdicts, profile, overall_outcome(verdicts), data.notes, out)
    return out.getvalue()


def test_table_shows_full_objectives_short_agents_and_named_bound(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ms = [rtt_measurement(rng, T0, 200, agent_id=AGENT, base_rtt_s=0.02, jitter_s=0.001)]
    text = _table(tmp_path, ms, window="all")
    header = next(line for line in text.splitlines() if line.startswith("OUTCOME"))
    assert "95 % BOUND" in header and "N/MIN" in header and "RULE" in header
    assert "mean-iptd " in text and "~" not in text
    assert f"{AGENT[:8]}|icmp|198.18.0.1" in text and AGENT not in text
    assert "NOT ASSESSED  iper" in text
    assert "1 not assessed: iper" in text.splitlines()[0]
    # the loss reason speaks percent, like the table, and says what would decide it
    iplr = next(line for line in text.splitlines() if line.strip().startswith("iplr ["))
    assert "%" in iplr and "more loss-free packets would decide it" in iplr
    assert "[0, 0.0" not in iplr


def test_table_counts_windows_per_objective(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ms = [
        rtt_measurement(
            rng, T0 + timedelta(hours=h), 100, agent_id=AGENT, base_rtt_s=0.02, jitter_s=0.001
        )
        for h in range(3)
    ]
    text = _table(tmp_path, ms, window="1h")
    assert "windows per objective:" in text
    assert "mean-iptd: 3 windows — 3 pass" in text


def test_hostile_target_cannot_drive_the_terminal_or_split_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ms = [
        rtt_measurement(
            rng, T0, 50, agent_id=AGENT, target=HOSTILE_TARGET, base_rtt_s=0.02, jitter_s=0.0
        )
    ]
    text = _table(tmp_path, ms, window="all")
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "\\u202e" in text
    assert not any(line.startswith("PASS  fake-row") for line in text.splitlines())
