"""Lab: HTTP and speedtest goodput against Debian's iperf3 (docs/methods.md §12.2, §12.5).

A 50 Mbit/s tbf bottleneck with 50 ms of queue (a home router's buffer) sits in the router
namespace; the reference server
(``qos-agent server``) and ``iperf3 -s`` run in the server namespace, the collectors and the
``iperf3`` client in the client namespace.  In the same test, on the same link, our HTTP
collector and speedtest-cli (through our collector) must each report goodput within 5 % of
iperf3's receiver-side figure, and never more than the set rate.

The speedtest download and upload run with the collector's defaults,
``download_scheduling=continuous`` and ``upload_scheduling=continuous`` (with speedtest-cli's
own FIFO join, under five busy loops its downloads read 0.93-0.95 of iperf3 in 2 of 4 runs
and 0.51-0.93 in three rounds in a row of a loaded suite run, continuous 0.98-1.01 in 4 of
4);
speedtest-cli's own FIFO join idled this link whenever one of its short connections was
stuck at a low BBR pacing rate (0.57-0.92 of iperf3 in 6 of 22 runs; evidence in
:mod:`qos_agent.collectors.speedtest`).
"""

from __future__ import annotations

import statistics
import sys

import pytest

from qos.records import Status, ThroughputResult
from qos_lab import peers
from qos_lab.netlab import Lab, Rate, python_env

pytestmark = [pytest.mark.lab, pytest.mark.slow]

RATE_BPS = 50e6
#: 50 ms of buffering at the bottleneck rate (a typical home-router queue; BDP-scale)
QUEUE_BYTES = int(RATE_BPS * 0.050 / 8)
REF_PORT = 8080
SPEEDTEST_LENGTH_S = 8


def _start_reference_server(lab: Lab) -> str:
    argv = [
        sys.executable,
        "-m",
        "qos_agent.cli",
        "server",
        "--bind",
        lab.server_addr,
        "--port",
        str(REF_PORT),
        "--speedtest-test-length",
        str(SPEEDTEST_LENGTH_S),
    ]
    lab.spawn_server(argv, wait_port=("tcp", REF_PORT), name="refserver", env=python_env())
    return f"http://{lab.server_addr}:{REF_PORT}"


def _goodput(measurement: object) -> float:
    assert measurement.status is Status.OK, measurement.error  # type: ignore[attr-defined]
    result = measurement.result  # type: ignore[attr-defined]
    assert isinstance(result, ThroughputResult)
    assert result.goodput_bps is not None
    return result.goodput_bps


#: rounds (iperf3, then our HTTP collector, then speedtest) when the first is out of bounds
ROUNDS = 3


def _round(lab: Lab, url: str, direction: str, state_file: str) -> dict[str, float]:
    """One round on the same link: iperf3's receiver figure and each collector's goodput."""
    download = direction == "download"
    iperf = peers.run_iperf3(
        lab, lab.server_addr, seconds=8, omit_s=2, reverse=download, extra=["-P", "4"]
    )
    http = _goodput(
        lab.run_collector(
            "http_throughput",
            url,
            {"direction": direction, "streams": 4, "duration": "8s", "warmup": "2s"},
        )
    )
    speedtest = _goodput(
        lab.run_collector(
            "speedtest",
            url + "/",
            {
                "direction": direction,
                "min_interval": 0,
                "warmup": 2,
                "state_file": state_file,
            },
        )
    )
    return {"iperf3": iperf.bits_per_second, "http_throughput": http, "speedtest": speedtest}


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_goodput_within_5_percent_of_iperf3_at_50mbit(
    shared_lab: Lab, tmp_path: object, direction: str
) -> None:
    """Each collector's goodput within 5 % of iperf3's, measured in the same round.

    The three tools run one after another, so a host that is busy in one tool's window
    and not in another's skews a single round: on a loaded 2-core host one speedtest
    download read 0.908 of iperf3 while the tbf counters showed the bottleneck idle
    (2.4 Mbit/s of 50) for half a second mid-run, the Python sender and receiver
    starved, and the runs before and after it read 0.99-1.02.  The median ratio of
    ``ROUNDS`` rounds decides (always all of them, so a lucky round cannot end the test
    early), which one starved run cannot move.  No figure may ever exceed the set rate.
    """
    lab = shared_lab
    download = direction == "download"
    lab.set_rate("backward" if download else "forward", Rate(RATE_BPS, queue_bytes=QUEUE_BYTES))
    url = _start_reference_server(lab)
    peers.start_iperf3_server(lab)
    rounds: list[dict[str, float]] = []
    while len(rounds) < ROUNDS:
        figures = _round(lab, url, direction, f"{tmp_path}/st.json")
        rounds.append(figures)
        print(
            f"\n{direction} at {RATE_BPS / 1e6:g} Mbit/s tbf, round {len(rounds)}: "
            + ", ".join(f"{k} {v / 1e6:.3f}" for k, v in figures.items())
            + " Mbit/s"
        )
        for name, value in figures.items():
            assert value <= RATE_BPS, f"{name} reports {value / 1e6:.3f} Mbit/s above the set rate"
    ratios = {
        name: statistics.median(_ratios(r)[name] for r in rounds)
        for name in ("http_throughput", "speedtest")
    }
    print(f"{direction}: ratios to iperf3 (median of {len(rounds)} rounds) {ratios}")
    assert abs(ratios["http_throughput"] - 1) <= 0.05
    assert ratios["speedtest"] <= 1.05
    assert ratios["speedtest"] >= 0.95


def _ratios(figures: dict[str, float]) -> dict[str, float]:
    return {name: figures[name] / figures["iperf3"] for name in ("http_throughput", "speedtest")}
