"""The metric catalogue drives scoring: a metric is one catalogue entry, its statistics
are computed by evaluators the entry names, and a new metric needs nothing else."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qos.errors import ProfileError
from qos.profiles import METRICS, MetricSpec, PerTestSource, parse_profiles, registered_metric
from qos.records import Status
from qos_analysis import load, score
from qos_analysis.scoring.evaluators import (
    EVALUATORS,
    EvalInput,
    register_evaluator,
    unregister_evaluator,
)
from qos_analysis.scoring.stat import Stat
from qos_analysis.stats.quantiles import percentile
from tests.analysis.synthetic import T0, timing, write_store

# Wall-clock run time of each timed measurement: a per-test metric that reuses the
# per-test population and the existing evaluators.
RUN_TIME = MetricSpec(
    "run_time",
    "duration",
    "<=",
    {"mean": "mean", "percentile": "order_statistic", "max": "maximum"},
    False,
    description="wall-clock duration of each timed measurement",
    citation="test",
    per_test=PerTestSource("timing", "duration_s", math.inf),
)


def _profile(objectives: list[dict[str, Any]]) -> Any:
    data = {
        "schema_version": 1,
        "title": "test",
        "source": {"document": "test", "edition": "1", "clause": "§0", "verified": False},
        "defaults": {"window": "all"},
        "objectives": objectives,
    }
    return parse_profiles(data, name="test")["test"]


def _objectives() -> list[dict[str, Any]]:
    return [
        {"id": "mean", "metric": "run_time", "statistic": "mean", "limit": "1s", "min_samples": 5},
        {
            "id": "p90",
            "metric": "run_time",
            "statistic": "percentile",
            "percentile": "90%",
            "limit": "400ms",
            "min_samples": 5,
        },
        {"id": "max", "metric": "run_time", "statistic": "max", "limit": "450ms", "min_samples": 5},
    ]


def test_every_evaluator_the_catalogue_names_is_registered() -> None:
    for spec in METRICS.values():
        assert spec.statistics, spec.name
        for statistic in spec.statistics:
            assert spec.evaluator(statistic) in EVALUATORS, (spec.name, statistic)


def test_a_metric_added_as_one_catalogue_entry_is_scored(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    times = rng.uniform(0.2, 0.44, 40)
    ms = [timing(T0 + timedelta(minutes=5 * i), float(t)) for i, t in enumerate(times)]
    data = load(write_store(tmp_path / "s.sqlite", ms, {"agent-a": "UTC"}))
    with registered_metric(RUN_TIME):
        verdicts = score(data, _profile(_objectives())).set_index("objective")
    assert set(verdicts.index) == {"mean", "p90", "max"}
    assert (verdicts["metric"] == "run_time").all() and (verdicts["unit"] == "s").all()
    assert (verdicts["n_samples"] == 40).all()
    assert verdicts.loc["mean", "value"] == pytest.approx(times.mean(), rel=1e-12)
    assert verdicts.loc["p90", "value"] == percentile(times, "90%")
    assert verdicts.loc["max", "value"] == times.max()
    assert verdicts.loc["max", "outcome"] == "pass"  # literal: max < 450 ms
    assert verdicts.loc["mean", "outcome"] == "pass"  # upper t bound far below 1 s
    # Outside the block the metric is gone: a profile naming it is refused.
    with pytest.raises(ProfileError, match="unknown metric 'run_time'"):
        _profile(_objectives())


def test_a_failed_test_of_a_new_metric_counts_as_its_failed_value(tmp_path: Path) -> None:
    ms = [timing(T0 + timedelta(minutes=5 * i), 0.3) for i in range(10)]
    ms.append(timing(T0 + timedelta(hours=2), None, status=Status.TIMEOUT))
    data = load(write_store(tmp_path / "s.sqlite", ms, {"agent-a": "UTC"}))
    with registered_metric(RUN_TIME):
        verdicts = score(data, _profile(_objectives())).set_index("objective")
    assert verdicts.loc["max", "value"] == math.inf
    assert verdicts.loc["max", "outcome"] == "fail"
    assert "1 failed test(s) counted as infinitely slow" in verdicts.loc["max", "note"]


def test_a_new_evaluator_is_one_registration(tmp_path: Path) -> None:
    """A metric whose "max" is the spread (max − min) of the run times: new arithmetic is
    one registered evaluator, named by the metric's catalogue entry."""

    def spread(inp: EvalInput) -> Stat:
        sg = inp.sorted_groups("exclude")
        nan = np.full(inp.n_groups, np.nan)
        value = sg.maximum() - sg.minimum()
        return Stat(value, nan, nan, sg.counts, "none (spread)", literal_only=True)

    spec = MetricSpec(
        "run_time_spread",
        "duration",
        "<=",
        {"max": "spread"},
        False,
        per_test=PerTestSource("timing", "duration_s", math.inf),
    )
    times = [0.2, 0.25, 0.5, 0.3, 0.22]
    ms = [timing(T0 + timedelta(minutes=5 * i), t) for i, t in enumerate(times)]
    data = load(write_store(tmp_path / "s.sqlite", ms, {"agent-a": "UTC"}))
    register_evaluator("spread")(spread)
    try:
        with registered_metric(spec):
            prof = _profile(
                [
                    {
                        "id": "spread",
                        "metric": "run_time_spread",
                        "limit": "250ms",
                        "min_samples": 5,
                    }
                ]
            )
            verdicts = score(data, prof)
    finally:
        unregister_evaluator("spread")
    (row,) = verdicts.to_dict("records")
    assert row["value"] == pytest.approx(0.3, abs=1e-12)
    assert row["outcome"] == "fail" and row["bound_method"] == "none (spread)"
    assert "spread" not in EVALUATORS and "run_time_spread" not in METRICS
