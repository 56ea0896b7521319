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


def run_qos(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``qos`` command line from this tree in a child process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "analysis")])}
    return subprocess.run(
        [sys.executable, "-m", "qos_analysis.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def voip_json(*extra: str) -> dict[str, object]:
    proc = run_qos(
        "qoe", "voip", "--one-way-delay-ms", "250", "--loss-percent", "1", "--json", *extra
    )
    assert proc.returncode == EXIT_OK, proc.stderr
    return json.loads(proc.stdout)


def test_qoe_voip_delay_sensitivity_classes() -> None:
    from qos_analysis.qoe.emodel import DELAY_SENSITIVITY, EModelParams, emodel

    seen = {}
    for name, (s_t, m_t) in DELAY_SENSITIVITY.items():
        doc = voip_json("--delay-sensitivity", name)
        params = doc["params"]
        assert isinstance(params, dict)
        assert (params["sT"], params["mT_ms"], doc["delay_sensitivity"]) == (s_t, m_t, name)
        expected = emodel(
            EModelParams(sT=s_t, mT_ms=m_t), T_ms=250, Tr_ms=500, Ta_ms=250, Ppl_percent=1
        )
        assert doc["R"] == pytest.approx(expected.R, abs=1e-9)
        seen[name] = doc
    # Less delay-sensitive classes are hurt less by the same 250 ms.
    assert seen["default"]["Idd"] > seen["low"]["Idd"] > seen["very-low"]["Idd"] > 0
    # Explicit sT/mT give the same result as the class, labelled custom.
    custom = voip_json("--sT", "0.4", "--mT", "200")
    assert custom["delay_sensitivity"] == "custom"
    assert custom["R"] == pytest.approx(seen["very-low"]["R"], abs=1e-12)
    text = run_qos(
        "qoe", "voip", "--one-way-delay-ms", "250", "--loss-percent", "1",
        "--delay-sensitivity", "low",
    )  # fmt: skip
    assert text.returncode == EXIT_OK, text.stderr
    assert "delay sensitivity low (sT 0.55, mT 150 ms)" in text.stdout


def test_qoe_voip_ie_bpl_and_advantage() -> None:
    from qos_analysis.qoe.emodel import EModelParams, emodel

    doc = voip_json("--codec", "g729", "--Ie", "10", "--Bpl", "19", "--advantage", "5")
    expected = emodel(
        EModelParams(Ie=10, Bpl=19, A=5), T_ms=250, Tr_ms=500, Ta_ms=250, Ppl_percent=1
    )
    assert doc["R"] == pytest.approx(expected.R, abs=1e-9)
    assert (doc["params"]["Ie"], doc["params"]["Bpl"], doc["A"]) == (10, 19, 5)  # type: ignore[index]
    named = run_qos(
        "qoe", "voip", "--one-way-delay-ms", "250", "--loss-percent", "1",
        "--advantage", "mobility-in-building",
    )  # fmt: skip
    assert named.returncode == EXIT_OK, named.stderr
    g711 = emodel(EModelParams(A=5), T_ms=250, Tr_ms=500, Ta_ms=250, Ppl_percent=1)
    assert f"R = {g711.R:.2f}" in named.stdout  # codec g711: Ie 0, Bpl 4.3
    assert "+ A 5" in named.stdout and "keep A = 0 for compliance" in named.stdout
    # G.729 has no published Bpl: refused with loss unless one is given.
    refused = run_qos(
        "qoe", "voip", "--one-way-delay-ms", "50", "--loss-percent", "1", "--codec", "g729"
    )
    assert refused.returncode == EXIT_USAGE and "no published Bpl" in refused.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--advantage", "30"), "[0, 20]"),
        (("--delay-sensitivity", "none"), "invalid choice"),
    ],
)
def test_qoe_voip_refuses_bad_parameters(extra: tuple[str, ...], message: str) -> None:
    proc = run_qos("qoe", "voip", "--one-way-delay-ms", "100", "--loss-percent", "1", *extra)
    assert proc.returncode == EXIT_USAGE
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--advantage", "satellite"), "--advantage must be a number or one of"),
        (("--advantage", "inf"), "[0, 20]"),
        (("--sT", "0"), "--sT must be a positive number"),
        (("--mT", "-5"), "--mT must be a positive number"),
        (("--Bpl", "nan"), "--Bpl must be a positive number"),
        (("--Ie", "95"), "--Ie must lie in [0, 95)"),
    ],
)
def test_qoe_voip_refuses_bad_parameter_values(
    extra: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["qoe", "voip", "--one-way-delay-ms", "100", "--loss-percent", "1", *extra]
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err
