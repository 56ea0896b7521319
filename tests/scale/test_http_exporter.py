"""The agent's ``http`` exporter against a real collector on loopback: a collector outage and
agent restarts lose nothing and store nothing twice."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from qos.config import parse_config
from qos.errors import ConfigError
from qos_agent.exporters import check_exporters
from qos_agent.runtime import AgentRuntime
from qos_analysis.collector.tokens import TokenFile
from qos_analysis.dataset import read_dataset
from tests.agent.field_helpers import listening, tcp_job
from tests.scale.collector_proc import Collector

pytest.importorskip("uvicorn", reason="the collector needs the 'collector' extra")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runtime(tmp_path: Path, port: int) -> AgentRuntime:
    doc = {
        "agent": {"id": "push-agent", "timezone": "Europe/Paris"},
        "store": {"path": str(tmp_path / "s.sqlite")},
        "exporters": [
            {
                "name": "fleet",
                "type": "http",
                "url": f"http://127.0.0.1:{port}/v1/measurements",
                "token_file": str(tmp_path / "token"),
                "timeout": "5s",
            }
        ],
    }
    return AgentRuntime(parse_config(doc, file="test"))


def test_collector_outage_and_agent_restarts_deliver_exactly_once(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    (tmp_path / "token").write_text(TokenFile(tokens).add("push-agent") + "\n")
    port = _free_port()
    collector = Collector(tmp_path / "ds", tokens, port=port)
    runtime = _runtime(tmp_path, port)
    try:
        with listening() as target:
            job = tcp_job(target, count=5)
            for _ in range(3):  # the collector is down: measuring and storing go on
                assert runtime.commit(runtime.run_job(job))
            runtime.close()
            runtime = _runtime(tmp_path, port)  # the agent restarts during the outage
            runtime.commit(runtime.run_job(job))
            collector.start()  # the collector comes up
            runtime.waiter(threading.Event())(3.0)  # backoff retry while idle
            runtime.commit(runtime.run_job(job))
            collector.kill()  # a crash: everything acknowledged is on disk
            runtime.commit(runtime.run_job(job))
            collector.start()
            runtime.waiter(threading.Event())(3.0)
            runtime.close()
            runtime = _runtime(tmp_path, port)  # a clean restart neither skips nor repeats
            runtime.commit(runtime.run_job(job))
            stored = runtime.store.ids()
    finally:
        runtime.close()
        collector.stop()
    pushed = read_dataset(tmp_path / "ds").measurements["measurement_id"].tolist()
    assert len(pushed) == len(set(pushed)), "a record was stored twice"
    assert set(pushed) == stored and len(stored) == 7


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"url": "ftp://x/"}, "url"),
        ({"url": "http://192.0.2.1:8443/v1/measurements"}, "url"),
        ({"batch": 0}, "batch"),
        ({"token_file": "/nonexistent/token"}, "token_file"),
    ],
)
def test_bad_http_exporter_options_name_the_key(tmp_path: Path, options: dict, key: str) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    spec = {"url": "https://127.0.0.1:1/v1/measurements", "token_file": str(token), **options}
    doc = {"exporters": [{"name": "fleet", "type": "http", **spec}]}
    with pytest.raises(ConfigError) as err:
        check_exporters(parse_config(doc, file="t").exporters)
    assert f"exporters.fleet.{key}" in str(err.value)
