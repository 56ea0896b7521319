"""The synthetic panel: its structure is the one its documentation states (operator quality
order, peak-hour load in local time, outages as failed tests, churn, metadata table), it is
reproducible from its seed, and it goes through the dataset writer (re-runs store nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qos_analysis.cli import main
from qos_analysis.load import load
from qos_analysis.panel.metadata import read_metadata
from qos_analysis.panel.synth import SynthConfig, synthesize

CFG = SynthConfig(agents=12, days=4, seed=7, probes_per_test=20, outage_probability=0.2, churn=0.5)


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("panel") / "ds"
    return out, synthesize(CFG, out)


def _joined(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = load(root)
    meta = read_metadata(root / "agents.csv")
    meas = data.measurements.merge(meta, on="agent_id", suffixes=("", "_meta"))
    probes = data.probes.assign(measurement_id=data.probes["measurement_id"].astype(str))
    probes = probes.merge(meas, on="measurement_id")
    return meas, probes


def test_counts_and_metadata(panel: tuple[Path, dict[str, int]]) -> None:
    root, counts = panel
    meta = read_metadata(root / "agents.csv")
    assert len(meta) == CFG.agents and counts["agents"] == CFG.agents
    assert set(meta.columns) >= {"operator", "region", "plan", "technology", "timezone"}
    data = load(root)
    assert len(data.measurements) == counts["measurements"]
    assert len(data.probes) == counts["probes"]
    rtt = data.measurements[
        data.measurements["kind"].eq("rtt") | data.measurements["collector"].eq("icmp")
    ]
    assert len(data.probes) == len(rtt) * CFG.probes_per_test
    days = data.measurements.groupby("agent_id")["started_at"].agg(lambda s: s.dt.date.nunique())
    assert days.max() == CFG.days and days.min() < CFG.days  # churn shortens some agents
    assert set(data.agents["timezone"]) == set(meta["timezone"])


def test_operators_differ_and_peak_hours_are_loaded(panel: tuple[Path, dict[str, int]]) -> None:
    root, _ = panel
    _, probes = _joined(root)
    ok = probes[~probes["lost"]]
    by_op = ok.groupby("operator")["rtt_s"].median()
    assert by_op["op-fast"] < by_op["op-mid"] < by_op["op-slow"]
    local_hour = np.array(
        [t.tz_convert(z).hour for t, z in zip(ok["started_at"], ok["timezone"], strict=True)]
    )
    slow = ok["operator"].eq("op-slow").to_numpy()
    peak = slow & (local_hour >= 19) & (local_hour < 23)
    night = slow & (local_hour >= 2) & (local_hour < 6)
    assert ok["rtt_s"][peak].median() > ok["rtt_s"][night].median() + 0.010


def test_outages_are_failed_tests_with_every_probe_lost(panel: tuple[Path, dict[str, int]]) -> None:
    root, _ = panel
    meas, probes = _joined(root)
    failed = meas[meas["status"] == "timeout"]
    assert len(failed) > 0
    assert probes[probes["status"] == "timeout"]["lost"].all()
    speed_failed = failed[failed["collector"] == "http_throughput"]
    assert speed_failed["result_json"].isna().all()


def test_same_seed_same_panel_and_a_rerun_stores_nothing(tmp_path: Path, capsys) -> None:
    args = ["synth", "--agents", "3", "--days", "2", "--seed", "5", "--probes-per-test", "5"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    assert a.measurements["measurement_id"].is_unique
    assert sorted(a.measurements["measurement_id"]) == sorted(b.measurements["measurement_id"])
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "c"), "--speed-tests-per-day", "5"]) == 2
    assert "divide 24" in capsys.readouterr().err
