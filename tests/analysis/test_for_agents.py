"""Dataset.for_agents keeps one household's rows and stays scorable."""

from __future__ import annotations

from pathlib import Path

from qos_analysis import load, score
from qos_analysis.aggregates import probe_aggregates
from tests.analysis.notebook_fixture import write_fixture


def test_for_agents_keeps_only_the_chosen_agent(tmp_path: Path) -> None:
    data = load(write_fixture(tmp_path / "fixture"))
    one = data.for_agents(["office-delhi"])
    assert set(one.measurements["agent_id"]) == {"office-delhi"}
    ids = set(one.measurements["measurement_id"].astype(str))
    assert set(one.probes["measurement_id"].astype(str)) <= ids
    want = data.probes[data.probes["measurement_id"].astype(str).isin(ids)]
    assert len(one.probes) == len(want) > 0
    # Aggregates of the subset equal the chosen agent's rows of the full aggregates.
    full = probe_aggregates(data, "1h")
    sub = probe_aggregates(one, "1h")
    mine = full[full["agent_id"] == "office-delhi"].reset_index(drop=True)
    assert sub["sent"].tolist() == mine["sent"].tolist()
    assert sub["lost"].tolist() == mine["lost"].tolist()
    verdicts = score(one, "y1541/class0")
    scopes = verdicts["scope"].astype(str)
    per_stream = scopes[scopes != "*"]  # "*" is the overall row
    assert len(per_stream) and per_stream.str.startswith("office-delhi|").all()
