"""Typed verdicts: an Outcome enum, a frozen Verdict per (objective, scope, window), and the
verdict table built from them as a view; scoring functions stay short."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from qos_analysis import Dataset, load, score
from qos_analysis.scoring import (
    OUTCOMES,
    VERDICT_COLUMNS,
    Outcome,
    Verdict,
    overall_outcome,
    score_verdicts,
    verdicts_frame,
)
from tests.analysis.golden import fixture_measurements
from tests.analysis.synthetic import write_store

SCORING = Path(__file__).resolve().parents[2] / "analysis" / "qos_analysis" / "scoring"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    path = tmp_path_factory.mktemp("verdicts") / "s.sqlite"
    return load(write_store(path, fixture_measurements(), {"agent-a": "UTC"}))


def test_verdict_fields_are_the_table_columns_and_outcomes_the_table_words() -> None:
    assert tuple(f.name for f in dataclasses.fields(Verdict)) == VERDICT_COLUMNS
    assert OUTCOMES == ("pass", "fail", "inconclusive", "not assessed")
    assert [o.value for o in Outcome] == list(OUTCOMES)
    assert json.dumps([Outcome.NOT_ASSESSED]) == '["not assessed"]'


@pytest.mark.parametrize("profile", ["y1541/class0", "g1010/videophone"])
def test_the_table_is_a_view_of_the_typed_verdicts(data: Dataset, profile: str) -> None:
    verdicts = score_verdicts(data, profile)
    assert verdicts and all(isinstance(v, Verdict) for v in verdicts)
    assert all(isinstance(v.outcome, Outcome) for v in verdicts)
    if profile == "y1541/class0":  # IPER cannot be observed: one "not assessed" verdict
        assert Outcome.NOT_ASSESSED in {v.outcome for v in verdicts}
    frame = score(data, profile)
    pd.testing.assert_frame_equal(verdicts_frame(verdicts), frame, check_exact=True)
    assert list(frame.columns) == list(VERDICT_COLUMNS)
    assert overall_outcome(verdicts) == overall_outcome(frame)
    first = verdicts[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.outcome = Outcome.PASS  # type: ignore[misc]
    # A filtered list of verdicts is a table too, with the same rows.
    passed = [v for v in verdicts if v.outcome == Outcome.PASS]
    expected = frame[frame["outcome"] == "pass"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        verdicts_frame(passed), expected, check_exact=True, check_dtype=False
    )


def test_no_verdicts_is_an_empty_table_with_the_columns() -> None:
    frame = verdicts_frame([])
    assert frame.empty and list(frame.columns) == list(VERDICT_COLUMNS)
    assert overall_outcome([]).outcome == Outcome.INCONCLUSIVE


def test_no_scoring_function_is_longer_than_60_lines_nor_keys_a_cache_by_identity() -> None:
    long, identity = [], []
    for path in sorted(SCORING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long.append(f"{path.name}:{node.name} {length} lines")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "id":
                identity.append(f"{path.name}:{node.lineno}")
    assert long == [] and identity == []
