"""``qos compare``: panel views on a synthetic panel whose operators differ by construction,
peak hours in each agent's local time, and the named tests checked against independent
computations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from qos.records import Measurement, ProbeSample, RttResult, Status
from qos_analysis.cli import main
from qos_analysis.load import from_measurements
from qos_analysis.panel.panellists import PeakHours, panellists
from qos_analysis.panel.significance import FISHER, Z_TEST, holm, median_test, share_test
from qos_analysis.panel.synth import SynthConfig, synthesize


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cmp") / "ds"
    synthesize(SynthConfig(agents=45, days=3, seed=3, probes_per_test=20), out)
    return out


def test_z_test_equals_the_uncorrected_chi_square_and_small_counts_use_fisher() -> None:
    name, p = share_test(40, 60, 25, 55)
    chi2 = sps.chi2_contingency([[40, 20], [25, 30]], correction=False)
    assert name == Z_TEST and p == pytest.approx(chi2.pvalue, rel=1e-12)
    name, p = share_test(1, 6, 5, 7)
    assert name == FISHER
    assert p == pytest.approx(sps.fisher_exact([[1, 5], [5, 2]]).pvalue, rel=1e-12)


def test_holm_step_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.2, float("nan"), 0.01])
    assert out[0] == pytest.approx(0.2) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)


def test_bootstrap_interval_covers_a_known_shift() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.030, 0.002, 80), rng.normal(0.020, 0.002, 80)
    name, p, low, high = median_test(a, b)
    assert "Mann-Whitney" in name and "bootstrap" in name
    assert p < 1e-10 and low < 0.010 < high and high - low < 0.003


def _rtt(agent: str, start: datetime, lost: int, n: int = 100) -> Measurement:
    probes = tuple(
        ProbeSample(seq=i, send_offset_s=i * 0.02, rtt_s=None if i < lost else 0.01)
        for i in range(n)
    )
    return Measurement(
        agent_id=agent,
        collector="icmp",
        target="198.51.100.1",
        started_at=start,
        duration_s=2.0,
        status=Status.OK,
        result=RttResult(probes=probes, interval_s=0.02),
        params={"count": n},
    )


def test_peak_hours_are_local_to_each_agent() -> None:
    # 10:00 and 12:00 UTC: 19:00 and 21:00 in Tokyo (peak), 11:00/13:00 in Berlin (not)
    day = datetime(2026, 3, 2, tzinfo=UTC)
    records = []
    for agent in ("tokyo", "berlin"):
        records += [
            _rtt(agent, day + timedelta(hours=10), lost=3),
            _rtt(agent, day + timedelta(hours=12), lost=1),
            _rtt(agent, day + timedelta(hours=2), lost=50),
        ]
    data = from_measurements(records, timezones={"tokyo": "Asia/Tokyo", "berlin": "Europe/Berlin"})
    meta = pd.DataFrame({"agent_id": ["tokyo", "berlin"]})
    units = panellists(data, meta, PeakHours()).set_index("agent_id")
    assert units.loc["tokyo", "peak_probes"] == 200
    assert units.loc["tokyo", "peak_loss"] == pytest.approx(4 / 200)
    assert units.loc["berlin", "peak_probes"] == 0 and np.isnan(units.loc["berlin", "peak_loss"])


def test_operators_are_ranked_as_constructed(panel: Path, capsys, tmp_path: Path) -> None:
    code = main(
        [
            "compare",
            "--data",
            str(panel),
            "--by",
            "operator",
            "--format",
            "json",
            "--figures",
            str(tmp_path / "fig"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    groups = pd.DataFrame(out["groups"])
    pairs = pd.DataFrame(out["pairs"])

    def value(view: str, group: str, stat: str) -> float:
        sel = groups[(groups.view == view) & (groups.group == group) & (groups.statistic == stat)]
        return float(sel["value"].iloc[0])

    assert value("speed_bands", "op-fast", "share_above_95") > 0.3
    assert value("speed_bands", "op-slow", "share_below_80") > 0.8
    assert value("peak_loss", "op-slow", "share_above_1%") > value(
        "peak_loss", "op-fast", "share_above_1%"
    )
    assert (
        value("latency", "op-fast", "median_rtt_s")
        < value("latency", "op-mid", "median_rtt_s")
        < value("latency", "op-slow", "median_rtt_s")
    )
    fast_slow = pairs[(pairs.group_a == "op-fast") & (pairs.group_b == "op-slow")]
    assert set(fast_slow.view) == {"speed_bands", "peak_loss", "consistent_80_80", "latency"}
    assert (fast_slow["p_holm"] < 0.01).all()
    assert (fast_slow["p_holm"] >= fast_slow["p"]).all()
    assert fast_slow["test"].str.contains("Fisher|z-test|Mann-Whitney").all()
    shares = groups[groups.statistic.str.startswith("share_")]
    assert ((shares.ci_low <= shares.value) & (shares.value <= shares.ci_high)).all()
    figures = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert figures == ["consistent_80_80.png", "latency.png", "peak_loss.png", "speed_bands.png"]
    assert all((tmp_path / "fig" / f).stat().st_size > 5000 for f in figures)


def test_formats_and_errors(panel: Path, capsys, tmp_path: Path) -> None:
    assert main(["compare", "--data", str(panel), "--by", "plan", "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("view,group,statistic") and "Mann-Whitney U" in text
    assert main(["compare", "--data", str(panel), "--by", "region"]) == 0
    assert "== latency by region" in capsys.readouterr().out
    assert main(["compare", "--data", str(panel), "--by", "plan", "--peak", "23-19"]) == 2
    (tmp_path / "agents.csv").write_text("agent_id,operator\na,x\na,y\n")
    code = main(
        [
            "compare",
            "--data",
            str(panel),
            "--by",
            "operator",
            "--agents",
            str(tmp_path / "agents.csv"),
        ]
    )
    assert code == 2 and "listed twice" in capsys.readouterr().err
