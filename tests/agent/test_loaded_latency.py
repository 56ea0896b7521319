"""Latency under load on loopback: structure, figures derived from the raw probes, failures.

Loopback has no bottleneck queue, so the size of the increase is checked in the lab
(tests/lab/test_loaded_latency_lab.py); here the collector runs against real peers — a
Debian ``iperf3 -s`` or our HTTP reference server as load, ICMP or TCP-connect probes — and
every reported figure is recomputed from the stored probes.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest

from qos.metrics import rtt_median_s
from qos.records import Measurement, Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.collectors.loaded_latency import choose_probe
from qos_agent.reference import ReferenceServices
from tests.agent.test_iperf3_protocol import Server, _free_port

needs_iperf3 = pytest.mark.skipif(
    shutil.which("iperf3") is None, reason="Debian package iperf3 not installed"
)
needs_icmp = pytest.mark.skipif(
    bool(get("icmp").check()), reason="ICMP probes cannot run here (need root or ping group)"
)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


def measure(target: str, **params: object) -> Measurement:
    return run_collector(
        get("loaded_latency"),
        target,
        params,
        MeasureContext(agent_id="test", stop=threading.Event()),
    )


def _phase(m: Measurement, name: str) -> list:  # type: ignore[type-arg]
    phase = m.result.details["phases"][name]
    return [
        p
        for p in m.result.probes
        if phase["first_seq"] <= p.seq < phase["first_seq"] + phase["count"]
    ]


def _check_figures(m: Measurement, interval: float, idle_s: float) -> None:
    d = m.result.details
    idle, loaded = _phase(m, "idle"), _phase(m, "loaded")
    assert len(idle) == round(idle_s / interval)
    assert loaded and len(idle) + len(loaded) == len(m.result.probes)
    # every loaded probe was sent after every idle probe
    assert min(p.send_offset_s for p in loaded) > max(p.send_offset_s for p in idle)
    assert d["idle_rtt_median_s"] == rtt_median_s([p.rtt_s for p in idle])
    assert d["loaded_rtt_median_s"] == rtt_median_s([p.rtt_s for p in loaded])
    assert d["latency_increase_s"] == pytest.approx(
        d["loaded_rtt_median_s"] - d["idle_rtt_median_s"]
    )
    assert d["responsiveness_rpm"] == pytest.approx(60 / d["loaded_rtt_median_s"])
    assert d["load_goodput_bps"] > 0
    assert d["bytes_on_wire"] >= d["load_bytes_total"] > 0


@needs_iperf3
@needs_icmp
def test_icmp_probes_around_an_iperf3_download(server: Server) -> None:
    m = measure(server.target, idle=1, interval=0.05, duration=3, warmup=1, streams=2)
    assert m.status is Status.OK, m.error
    assert m.result.details["probe"] == "icmp"
    assert m.result.details["probe_target"] == "127.0.0.1"
    assert m.result.details["load_direction"] == "download"
    _check_figures(m, 0.05, 1)
    # the loaded probes sit inside the load's measured window: 3 s − lead-in − tail
    assert len(_phase(m, "loaded")) == round((3 - 0.5 - 0.5) / 0.05)


@needs_iperf3
def test_tcp_connect_probes_around_an_iperf3_upload(server: Server) -> None:
    with ReferenceServices() as ref:
        probe_target = ref.resolve("@reference/tcp")
        m = measure(
            server.target,
            probe="tcp_connect",
            probe_target=probe_target,
            idle=1,
            interval=0.1,
            duration=3,
            warmup=1,
            direction="upload",
        )
    assert m.status is Status.OK, m.error
    assert m.result.details["probe"] == "tcp_connect"
    assert m.result.details["load_details"]["goodput_source"] == "client"
    _check_figures(m, 0.1, 1)


@needs_icmp
def test_http_throughput_load_from_the_reference_server() -> None:
    with ReferenceServices() as ref:
        url = ref.resolve("@reference/http")
        m = measure(
            url, load="http_throughput", idle=1, interval=0.05, duration=3, warmup=1, streams=2
        )
    assert m.status is Status.OK, m.error
    assert m.result.details["probe_target"] == "127.0.0.1"
    _check_figures(m, 0.05, 1)


@needs_icmp
def test_failed_load_is_a_failed_record_with_the_probes_kept() -> None:
    m = measure(f"127.0.0.1:{_free_port()}", idle=0.5, interval=0.05, duration=2, warmup=0)
    assert m.status is Status.ERROR
    assert "load test (iperf3) failed: unreachable" in m.error
    assert len(_phase(m, "idle")) == 10  # the idle series is still stored


def test_forced_probe_needs_host_and_port() -> None:
    _, _, problem = choose_probe("tcp_connect", "", "127.0.0.1:5201")
    assert problem == "probe 'tcp_connect' needs probe_target as HOST:PORT"
    m = measure("127.0.0.1:5201", probe="tcp_connect")
    assert m.status is Status.ERROR and "HOST:PORT" in m.error


def test_auto_probe_falls_back_to_tcp_connect_without_icmp(monkeypatch: pytest.MonkeyPatch) -> None:
    from qos_agent.collectors import icmp

    monkeypatch.setattr(icmp.IcmpCollector, "check", lambda self: ["no ICMP permission"])
    assert choose_probe("auto", "127.0.0.1:80", "x") == ("tcp_connect", "127.0.0.1:80", None)
    _, _, problem = choose_probe("auto", "", "http://127.0.0.1:8080/")
    assert problem and "no ICMP permission" in problem and "probe_target" in problem
    if os.geteuid() == 0:
        monkeypatch.undo()
        assert choose_probe("auto", "", "http://[::1]:8080/x") == ("icmp", "::1", None)


def test_no_idle_replies_means_no_load_is_spent() -> None:
    m = measure(
        "127.0.0.1:5201",
        probe="tcp_connect",
        probe_target=f"127.0.0.1:{_free_port()}",
        idle=0.5,
        interval=0.1,
    )
    assert m.status is Status.UNREACHABLE
    assert m.error.startswith("no idle probe replies, load not started")
    assert "load_status" not in m.result.details
    assert m.result.details["bytes_on_wire"] == 0
    assert len(m.result.probes) == 5 and all(p.rtt_s is None for p in m.result.probes)
