"""``--engine dask`` gives the pandas engine's verdicts (same outcome and n, values to
1e-12, exact quantiles) on a partitioned dataset, for several profiles, windows and
scopes; an unreachable scheduler is a clear exit 2."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qos.profiles import get_profile
from qos_analysis.cli import main
from qos_analysis.dataset import DatasetWriter
from qos_analysis.engine import merge_verdicts, score_sources
from qos_analysis.panel.synth import SynthConfig, synthesize
from tests.scale.records import mixed_batch

distributed = pytest.importorskip("distributed", reason="the dask engine needs the 'scale' extra")

CASES = [
    ("y1541/class1", None, None),
    ("y1541/class0", "1h", None),
    ("g114/acceptable", "1d", None),
    ("contract.example", None, None),
    ("fcc-caf", "all", {"required_download": "250Mbit/s", "required_upload": "40Mbit/s"}),
    ("g1010/conversational-voice", "6h", None),
]
EXACT = (
    "outcome",
    "n_samples",
    "n_tests",
    "excluded_tests",
    "agent_id",
    "collector",
    "target",
    "direction",
    "window_start",
    "window_end",
    "rule",
    "approximate",
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("engine") / "ds"
    synthesize(SynthConfig(agents=9, days=2, seed=11, probes_per_test=40), root)
    writer = DatasetWriter(root)  # plus STAMP one-way data, timing and a failed test
    for agent in ("stamp-1", "stamp-2"):
        writer.write_records(mixed_batch(agent, seed=len(agent)))
    return root


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GB",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as c:
        yield c


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b) and list(a.columns) == list(b.columns)
    for name in a.columns:
        if name == "note":  # free text: counts in it are over the rows each engine saw at once
            continue
        left, right = a[name], b[name]
        if name in EXACT or not pd.api.types.is_numeric_dtype(left.dtype):
            assert left.astype(str).tolist() == right.astype(str).tolist(), name
        else:
            np.testing.assert_allclose(
                left.to_numpy(float), right.to_numpy(float), rtol=1e-12, atol=0, err_msg=name
            )


@pytest.mark.parametrize(("profile", "window", "params"), CASES)
def test_dask_gives_the_pandas_verdicts(dataset: Path, cluster, profile, window, params) -> None:
    want, _ = score_sources([dataset], profile, window=window, params=params)
    got, _ = score_sources(
        [dataset],
        profile,
        engine="dask",
        scheduler=cluster.scheduler_address,
        window=window,
        params=params,
    )
    assert len(want) > 0 and set(want["outcome"]) != {"not assessed"}
    _assert_same(merge_verdicts([want], get_profile(profile)), got)


def test_cli_dask_engine_on_a_local_cluster(dataset: Path, capsys) -> None:
    args = ["score", "--data", str(dataset), "--profile", "y1541/class1", "--format", "csv"]
    assert main(args) == 0
    pandas_out = capsys.readouterr().out
    assert main([*args, "--engine", "dask"]) == 0
    dask_out = capsys.readouterr().out
    assert sorted(pandas_out.splitlines()) == sorted(dask_out.splitlines())


def test_an_unreachable_scheduler_is_exit_2_naming_it(dataset: Path, capsys) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    code = main(
        [
            "score",
            "--data",
            str(dataset),
            "--profile",
            "y1541/class1",
            "--engine",
            "dask",
            "--scheduler",
            address,
        ]
    )
    assert code == 2 and address in capsys.readouterr().err


def test_dask_needs_a_dataset(tmp_path: Path, capsys) -> None:
    export = tmp_path / "x.jsonl"
    export.write_text("")
    code = main(["score", "--data", str(export), "--profile", "y1541/class1", "--engine", "dask"])
    assert code == 2 and "partitioned dataset" in capsys.readouterr().err


def test_compare_gives_the_same_views_on_dask(dataset: Path, cluster, capsys) -> None:
    args = ["compare", "--data", str(dataset), "--by", "operator", "--format", "json"]
    assert main(args) == 0
    want = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "dask", "--scheduler", cluster.scheduler_address]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got == want and len(want["pairs"]) == 12


def _report_json(path: Path) -> object:
    """The report document without the command line (which names the engine), lists in a
    canonical order: the Dask engine lists scopes by agent id, pandas in data order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["provenance"].pop("command")

    def canonical(node: object) -> object:
        if isinstance(node, dict):
            return {k: canonical(v) for k, v in node.items()}
        if isinstance(node, list):
            items = [canonical(v) for v in node]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return node

    return canonical(doc)


def test_report_on_dask_is_the_pandas_report(dataset: Path, cluster, capsys, tmp_path) -> None:
    args = ["report", "--data", str(dataset), "--profile", "y1541/class1", "--format", "json"]
    args += ["--window", "6h", "--since", "2026-03-02T12:00Z", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "pandas.json")]) == 0
    want = _report_json(tmp_path / "pandas.json")
    dask_args = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
    assert main([*args, *dask_args, "--out", str(tmp_path / "dask.json")]) == 0
    got = json.loads((tmp_path / "dask.json").read_text(encoding="utf-8"))
    assert "--engine dask" in got["provenance"]["command"]
    assert _report_json(tmp_path / "dask.json") == want
    # the period selection reached the workers: nothing before --since was scored
    starts = {v["window_start"] for v in got["verdicts"] if v["window_start"]}
    assert starts and min(starts) >= "2026-03-02T12:00"
    capsys.readouterr()


def test_report_with_an_unreachable_scheduler_is_exit_2(dataset: Path, capsys, tmp_path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    out = tmp_path / "r.json"
    args = ["report", "--data", str(dataset), "--profile", "y1541/class1", "--format", "json"]
    code = main([*args, "--out", str(out), "--engine", "dask", "--scheduler", address])
    assert code == 2 and address in capsys.readouterr().err
    assert not out.exists()
    code = main([*args, "--out", str(out), "--scheduler", address])  # pandas + a scheduler
    assert code == 2 and "--engine dask" in capsys.readouterr().err


def test_report_api_takes_the_engine(dataset: Path, cluster, tmp_path: Path) -> None:
    from qos_analysis import load
    from qos_analysis.report import ReportError, report

    written = report(
        dataset,
        "y1541/class1",
        format="json",
        out=tmp_path / "api.json",
        window="all",
        engine="dask",
        scheduler=cluster.scheduler_address,
    )
    want, _ = score_sources([dataset], "y1541/class1", window="all")
    assert len(written.report.verdicts) == len(want)
    assert {v.outcome for v in written.report.verdicts} == set(want["outcome"])
    with pytest.raises(ReportError, match="partitioned dataset path"):
        report(load(dataset), "y1541/class1", format="json", out=tmp_path / "x", engine="dask")


def test_tasks_are_sized_by_bytes_read(dataset: Path, monkeypatch) -> None:
    from qos_analysis import engine
    from qos_analysis.dataset.reader import agent_bytes, list_agents

    agents = list_agents(dataset)
    sizes = agent_bytes(dataset)
    assert set(sizes) == set(agents) and all(v > 0 for v in sizes.values())
    chunks = engine.agent_chunks(dataset, agents, 4)
    assert [a for c in chunks for a in c] == agents and len(chunks) >= 4
    monkeypatch.setattr(engine, "TASK_BYTES", max(sizes.values()))
    for chunk in engine.agent_chunks(dataset, agents, 1):
        assert len(chunk) == 1 or sum(sizes[a] for a in chunk) <= max(sizes.values())


def test_a_worker_killed_mid_run_still_gives_the_full_result(dataset: Path, cluster) -> None:
    import os
    import signal
    import threading
    import time

    want, _ = score_sources([dataset], "y1541/class1")
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["table"] = score_sources(
                [dataset], "y1541/class1", engine="dask", scheduler=cluster.scheduler_address
            )[0]
        except Exception as exc:  # reported below: a clear failure is acceptable, not a partial
            result["error"] = exc

    with distributed.Client(cluster.scheduler_address) as watcher:
        pids = watcher.run(os.getpid)
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 120
        while not any(watcher.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = next(addr for addr, tasks in watcher.processing().items() if tasks)
        os.kill(pids[busy], signal.SIGKILL)
        killed_while_running = thread.is_alive()
        thread.join(timeout=300)
    assert killed_while_running
    if "error" in result:
        assert "distributed run failed" in str(result["error"])
    else:
        _assert_same(merge_verdicts([want], get_profile("y1541/class1")), result["table"])
