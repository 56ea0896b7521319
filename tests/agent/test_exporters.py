"""Exporters: delivery cursors (exactly once by id across outages and restarts), Prometheus
scraped and parsed with prometheus_client.parser, JSONL and Parquet rotation."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from pathlib import Path

import pytest

from qos.config import parse_config
from qos.errors import ConfigError
from qos.records import RttResult
from qos.serialization import loads
from qos_agent.runtime import AgentRuntime
from tests.agent.field_helpers import listening, tcp_job
from tests.agent.test_import_boundaries import _modules_after


def _runtime(tmp_path: Path, exporters: list[dict], *, isolate: bool = False) -> AgentRuntime:
    doc = {
        "agent": {"id": "exp-agent", "timezone": "UTC"},
        "store": {"path": str(tmp_path / "s.sqlite")},
        "exporters": exporters,
    }
    return AgentRuntime(parse_config(doc, file="test"), isolate=isolate)


def _ids(path: Path) -> list[str]:
    return [loads(line).id for line in path.read_text().splitlines()]


def _break(directory: Path) -> None:
    """The exporter's target goes away (its directory is replaced by a file)."""
    directory.rename(directory.with_name("saved"))
    directory.write_text("the exporter's directory is gone")


def _repair(directory: Path) -> None:
    directory.unlink()
    directory.with_name("saved").rename(directory)


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "job-processes"])
def test_target_down_then_up_delivers_every_record_exactly_once(
    tmp_path: Path, isolate: bool
) -> None:
    """Also when each job runs in its own process (as in the daemon), which stores the
    record itself: the daemon exports it once, whole."""
    out = tmp_path / "out"
    out.mkdir()
    lines = out / "records.jsonl"
    spec = [{"name": "lines", "type": "jsonl", "path": str(lines)}]
    runtime = _runtime(tmp_path, spec, isolate=isolate)
    with listening() as port:
        job = tcp_job(port, count=5)
        runtime.commit(runtime.run_job(job))
        _break(out)  # the target goes down …
        for _ in range(3):
            assert runtime.commit(runtime.run_job(job))  # measuring and storing go on
        runtime.close()  # … and stays down across a restart
        runtime = _runtime(tmp_path, spec, isolate=isolate)
        runtime.commit(runtime.run_job(job))
        _repair(out)  # the target is back
        runtime.waiter(threading.Event())(3.0)  # backoff retry while idle
        runtime.commit(runtime.run_job(job))
        runtime.close()
        runtime = _runtime(tmp_path, spec, isolate=isolate)  # neither skips nor repeats
        runtime.commit(runtime.run_job(job))
        stored = runtime.store.ids()
        runtime.close()
    exported = _ids(lines)
    assert len(exported) == len(set(exported)), "a record was delivered twice"
    assert set(exported) == stored
    assert len(exported) == len(stored) == 7
    records = [loads(line) for line in lines.read_text().splitlines()]
    assert all(isinstance(m.result, RttResult) and len(m.result.probes) == 5 for m in records)


def test_one_failing_exporter_never_blocks_another(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("not a directory")
    good = tmp_path / "good.jsonl"
    runtime = _runtime(
        tmp_path,
        [
            {"name": "bad", "type": "jsonl", "path": str(bad / "x.jsonl")},
            {"name": "good", "type": "jsonl", "path": str(good)},
        ],
    )
    with listening() as port:
        for _ in range(2):
            runtime.commit(runtime.run_job(tcp_job(port, count=3)))
    assert sorted(_ids(good)) == sorted(runtime.store.ids())
    assert runtime.store.cursors()["good"] == runtime.store.max_mid()
    assert runtime.store.cursors()["bad"] == 0
    runtime.close()


def test_prometheus_endpoint_is_scraped_and_parsed(tmp_path: Path) -> None:
    parser = pytest.importorskip("prometheus_client.parser")
    textfile = tmp_path / "textfile" / "qos.prom"
    runtime = _runtime(
        tmp_path,
        [
            {
                "name": "prom",
                "type": "prometheus",
                "listen": "127.0.0.1:0",
                "textfile": str(textfile),
            }
        ],
    )
    exporter = runtime.exporters[0]
    host, port = exporter.address
    assert host == "127.0.0.1"
    with listening() as target_port:
        records = [runtime.run_job(tcp_job(target_port, count=20)) for _ in range(2)]
        for m in records:
            assert runtime.commit(m)
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as reply:
        body = reply.read().decode()
    runtime.close()
    for text in (body, textfile.read_text()):
        families = {f.name: f for f in parser.text_string_to_metric_families(text)}
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families.values()
            for s in f.samples
        }
        last = records[-1]
        assert isinstance(last.result, RttResult)
        rtts = sorted(p.rtt_s for p in last.result.probes if p.rtt_s is not None)
        scope = (("collector", "tcp_connect"), ("job", "tcp"), ("target", last.target))
        key = ("qos_rtt_seconds", tuple(sorted((*scope, ("statistic", "max")))))
        assert samples[key] == pytest.approx(rtts[-1])
        key = ("qos_rtt_seconds", tuple(sorted((*scope, ("statistic", "min")))))
        assert samples[key] == pytest.approx(rtts[0])
        sent = len(last.result.probes)
        assert samples[("qos_loss_ratio", scope)] == pytest.approx((sent - len(rtts)) / sent)
        status = (("collector", "tcp_connect"), ("status", str(last.status)))
        assert samples[("qos_measurements_total", status)] == 2
        assert samples[("qos_store_backlog_records", ())] == 0
        assert families["qos_measurements"].type == "counter"
        assert families["qos_rtt_seconds"].type == "gauge"


def test_prometheus_client_is_imported_only_when_configured(tmp_path: Path) -> None:
    loaded = _modules_after(
        "from qos.config import parse_config\n"
        "from qos_agent.runtime import AgentRuntime\n"
        f"r = AgentRuntime(parse_config({{'store': {{'path': '{tmp_path / 's.sqlite'}'}}, "
        "'agent': {'timezone': 'UTC'}, "
        f"'exporters': [{{'name': 'l', 'type': 'jsonl', 'path': '{tmp_path / 'l.jsonl'}'}}]}}))\n"
        "r.close()"
    )
    assert "qos_agent.exporters.jsonl" in loaded
    assert not any(m.split(".")[0] in {"prometheus_client", "pyarrow"} for m in loaded)


def test_jsonl_rotates_by_size_and_keeps_every_record(tmp_path: Path) -> None:
    path = tmp_path / "out" / "records.jsonl"
    runtime = _runtime(
        tmp_path, [{"name": "lines", "type": "jsonl", "path": str(path), "rotate_size": "2kB"}]
    )
    with listening() as port:
        for _ in range(6):
            runtime.commit(runtime.run_job(tcp_job(port, count=5)))
    stored = runtime.store.ids()
    runtime.close()
    files = sorted(path.parent.glob("records*.jsonl"))
    assert len(files) >= 2
    rotated = [f for f in files if f != path]
    assert all(f.stat().st_size >= 2000 for f in rotated)
    ids = [i for f in files for i in _ids(f)]
    assert sorted(ids) == sorted(stored)


def test_parquet_rotates_and_reads_back(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "pq" / "records.parquet"
    runtime = _runtime(
        tmp_path, [{"name": "pq", "type": "parquet", "path": str(path), "rotate_size": "3kB"}]
    )
    with listening() as port:
        for _ in range(6):
            runtime.commit(runtime.run_job(tcp_job(port, count=5)))
    stored = {m.id: m for m in runtime.store.iter_measurements()}
    exporter = runtime.exporters[0]
    runtime.close()
    exporter.rotate()  # convert what is still spooled
    files = sorted(path.parent.glob("records-*.parquet"))
    assert len(files) >= 2
    table = [row for f in files for row in pq.read_table(f).to_pylist()]
    assert sorted(r["measurement_id"] for r in table) == sorted(stored)
    row = table[0]
    m = stored[row["measurement_id"]]
    assert row["started_at"] == m.started_at
    assert len(json.loads(row["result_json"])["probes"]) == len(m.result.probes)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"name": "x", "type": "carrier-pigeon"}, "exporters.x.type"),
        ({"name": "x", "type": "jsonl"}, "exporters.x.path"),
        ({"name": "x", "type": "jsonl", "path": "/tmp/x", "fsink": True}, "exporters.x.fsink"),
        ({"name": "x", "type": "prometheus", "listen": "nowhere"}, "exporters.x.listen"),
    ],
)
def test_bad_exporter_config_names_the_key(tmp_path: Path, spec: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _runtime(tmp_path, [spec])
    assert info.value.key == key


def test_rotation_by_time_follows_utc_periods_across_restarts(tmp_path: Path) -> None:
    from qos_agent.exporters.base import Rotation

    path = tmp_path / "r.jsonl"
    path.write_text("x\n")
    day = 86_400.0
    os.utime(path, (day * 10 + 5, day * 10 + 5))  # last written early on day 10 (UTC)
    rotation = Rotation(None, day)
    assert not rotation.due(path, now=day * 11 - 1)  # still day 10
    assert rotation.due(path, now=day * 11 + 1)  # day 11: a new file
    assert Rotation(50.0, None).due(path) is False and Rotation(2.0, None).due(path)
