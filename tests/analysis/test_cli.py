"""The ``qos`` command line: profiles, score, qoe voip; exit codes 0 / 2 / 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from qos_analysis.cli import EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, main
from tests.analysis.synthetic import T0, stream_series, throughput, write_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    ms = stream_series(
        rng, count=10, every=timedelta(minutes=1), probes=400, base_rtt_s=0.300, jitter_s=0.01
    )  # one-way ≈ 152 ms: fails class 0
    return write_store(tmp_path / "s.sqlite", ms, {"agent-a": "UTC"})


def test_profiles_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    for pid in (
        "y1541/class0",
        "y1541/class7",
        "g1010/conversational-voice",
        "fcc-caf",
        "bnetza-fixed",
        "trai/domestic",
        "g114/acceptable",
        "contract.example",
    ):
        assert pid in out
    assert main(["profiles", "list", "--json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert all(r["verified"] is False for r in rows)
    assert main(["profiles", "show", "y1541/class0"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "mean of one_way_delay <= 100.000 ms" in out and "Table 1" in out
    assert main(["profiles", "show", "bnetza-fixed", "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"]["download_max"]["required"] is True
    assert main(["profiles", "show", "y1541/clas0"]) == EXIT_USAGE
    assert "did you mean 'y1541/class0'" in capsys.readouterr().err


def test_score_formats_and_exit_codes(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["score", "--data", str(store), "--profile", "y1541/class0", "--window", "all"])
        == EXIT_OK
    )
    out = capsys.readouterr().out
    assert "overall FAIL" in out and "≈ rtt/2" in out and "rtt-half" in out
    assert "mean-iptd " in out and "mean-iptd~" not in out  # full ids, approximations apart
    assert (
        main(
            [
                "score",
                "--data",
                str(store),
                "--profile",
                "y1541/class0",
                "--window",
                "all",
                "--fail-on-violation",
            ]
        )
        == EXIT_VIOLATION
    )
    capsys.readouterr()
    assert (
        main(
            [
                "score",
                "--data",
                str(store),
                "--profile",
                "y1541/class4",
                "--window",
                "all",
                "--format",
                "json",
                "--fail-on-violation",
            ]
        )
        == EXIT_OK
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["profile"] == "y1541/class4"
    by = {v["objective"]: v for v in doc["verdicts"]}
    assert by["mean-iptd"]["outcome"] == "pass" and by["iper"]["outcome"] == "not assessed"
    assert by["iplr"]["n_samples"] == 4000
    assert (
        main(["score", "--data", str(store), "--profile", "y1541/class0", "--format", "csv"])
        == EXIT_OK
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("profile,objective,") and len(lines) > 10


def test_score_usage_and_data_errors(
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (
        main(["score", "--data", str(tmp_path / "missing.sqlite"), "--profile", "y1541/class0"])
        == EXIT_USAGE
    )
    assert "missing.sqlite: no such file" in capsys.readouterr().err
    bad = ROOT / "tests" / "data" / "profiles" / "invalid-unknown-metric.toml"
    assert main(["score", "--data", str(store), "--profile", str(bad)]) == EXIT_USAGE
    assert "unknown metric" in capsys.readouterr().err
    assert main(["score", "--data", str(store), "--profile", "bnetza-fixed"]) == EXIT_USAGE
    assert "pass --param download_max" in capsys.readouterr().err
    assert (
        main(["score", "--data", str(store), "--profile", "y1541/class0", "--window", "soon"])
        == EXIT_USAGE
    )
    assert (
        main(["score", "--data", str(store), "--profile", "fcc-caf", "--param", "oops"])
        == EXIT_USAGE
    )
    # without --data the agent's default store is read; a machine without one is told so
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "empty-xdg"))
    assert main(["score", "--profile", "y1541/class0"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "qos-toolkit/measurements.sqlite does not exist" in err
    assert "no measurements yet" in err and "qos-agent run --once" in err
    # ... and QOS_STORE_PATH, which the agent honours, names the store for qos too
    monkeypatch.setenv("QOS_STORE_PATH", str(store))
    assert main(["score", "--profile", "y1541/class0", "--format", "json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["profile"] == "y1541/class0"


def test_score_with_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    times = [T0 + timedelta(days=d, hours=18 + h) for d in range(7) for h in range(6)]
    path = write_store(tmp_path / "t.sqlite", [throughput(t, 30e6) for t in times])
    assert (
        main(
            [
                "score",
                "--data",
                str(path),
                "--profile",
                "fcc-caf",
                "--param",
                "required_download=25Mbit/s",
                "--param",
                "required_upload=3Mbit/s",
                "--format",
                "json",
            ]
        )
        == EXIT_OK
    )
    by = {v["objective"]: v for v in json.loads(capsys.readouterr().out)["verdicts"]}
    assert by["download-80-80"]["outcome"] == "pass"
    assert by["download-80-80"]["value"] == 1.0


def test_qoe_voip(capsys: pytest.CaptureFixture[str]) -> None:
    flent_util = pytest.importorskip("flent.util")
    assert (
        main(["qoe", "voip", "--one-way-delay-ms", "80", "--loss-percent", "1", "--json"])
        == EXIT_OK
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["mos"] == pytest.approx(flent_util.mos_score(80, 0.01), abs=1e-6)
    assert main(["qoe", "voip", "--one-way-delay-ms", "0", "--loss-percent", "0"]) == EXIT_OK
    assert "R = 93.21" in capsys.readouterr().out
    assert (
        main(
            [
                "qoe",
                "voip",
                "--one-way-delay-ms",
                "50",
                "--loss-percent",
                "2",
                "--burst-ratio",
                "2",
                "--codec",
                "g711-plc",
            ]
        )
        == EXIT_OK
    )
    capsys.readouterr()
    assert (
        main(["qoe", "voip", "--one-way-delay-ms", "50", "--loss-percent", "2", "--codec", "opus"])
        == EXIT_USAGE
    )
    assert "wideband" in capsys.readouterr().err
    assert main(["qoe", "voip", "--one-way-delay-ms", "50", "--loss-percent", "200"]) == EXIT_USAGE


def test_entry_point_runs_as_a_program(store: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "analysis")])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qos_analysis.cli",
            "score",
            "--data",
            str(store),
            "--profile",
            "y1541/class0",
            "--window",
            "all",
            "--fail-on-violation",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == EXIT_VIOLATION, proc.stderr
    assert "FAIL" in proc.stdout
