"""The ICMP stream keeps its send schedule even when the CPU is saturated (when permitted)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest

from tests.agent.conftest import icmp_unavailable_reason


def _fifo_permitted() -> bool:
    try:
        previous = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        return False
    os.sched_setscheduler(0, *previous)
    return True


@pytest.fixture
def busy_cpus():
    """One CPU-bound process per core plus one: the scheduler always has a competitor."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range((os.cpu_count() or 1) + 1)
    ]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_send_gaps_stay_within_1ms_under_cpu_load(run_cli, busy_cpus) -> None:
    if icmp_unavailable_reason():
        pytest.skip(f"ICMP cannot run here: {icmp_unavailable_reason()}")
    if not _fifo_permitted():
        pytest.skip("SCHED_FIFO is not permitted here (needs root or CAP_SYS_NICE)")
    proc = run_cli(
        "once",
        "icmp",
        "127.0.0.1",
        "--param",
        "count=200",
        "--param",
        "interval=10ms",
        "--json",
        "--no-store",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["result"]["details"]["scheduling"] == "SCHED_FIFO"
    fields = doc["result"]["probe_fields"]
    offsets = [
        dict(zip(fields, row, strict=True))["send_offset_s"] for row in doc["result"]["probes"]
    ]
    worst = max(abs(b - a - 0.010) for a, b in itertools.pairwise(offsets))
    assert worst <= 0.001, f"a send gap deviated from 10 ms by {worst * 1e3:.3f} ms"
    assert doc["summary"]["loss_ratio"] == 0.0


def test_normal_scheduling_can_be_chosen(run_cli) -> None:
    if icmp_unavailable_reason():
        pytest.skip(f"ICMP cannot run here: {icmp_unavailable_reason()}")
    proc = run_cli(
        "once",
        "icmp",
        "127.0.0.1",
        "--param",
        "count=5",
        "--param",
        "interval=5ms",
        "--param",
        "scheduling=normal",
        "--json",
        "--no-store",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"]["details"]["scheduling"] == "normal"
