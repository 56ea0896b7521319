"""Our own agent inside the lab: the STAMP reflector and collector runs.

Everything runs as a subprocess inside a lab namespace (sockets belong to the namespace of
the process that creates them): the reflector via ``python -m qos_agent.cli reflector`` in
the server namespace, collectors via :meth:`qos_lab.netlab.Lab.run_collector` in the
client namespace.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from subprocess import Popen
from typing import Any

from qos.records import Measurement, RttResult
from qos_lab.netlab import Lab, LabError
from qos_lab.peers import realtime_argv

STAMP_PORT = 8620


def have_collector(name: str) -> bool:
    """True when ``qos_agent/collectors/<name>.py`` exists (else its lab tests skip)."""
    root = Path(__file__).resolve().parents[2] / "agent" / "qos_agent" / "collectors"
    return (root / f"{name}.py").is_file()


def start_reflector(
    lab: Lab, port: int = STAMP_PORT, *, rate_limit_pps: float = 5000.0
) -> Popen[str]:
    """``qos-agent reflector`` bound to the lab server address (stateful STAMP reflector)."""
    argv = [
        sys.executable,
        "-m",
        "qos_agent.cli",
        "reflector",
        "--bind",
        lab.server_addr,
        "--port",
        str(port),
        "--rate-limit",
        f"{rate_limit_pps:g}",
        "--burst",
        "1000",
    ]
    # under SCHED_FIFO as the collectors it answers (see qos_lab.peers.realtime_argv)
    return lab.spawn_server(
        realtime_argv(argv), wait_port=("udp", port), name=f"stamp-reflector:{port}"
    )


def measure(
    lab: Lab, collector: str, target: str, params: Mapping[str, Any], *, timeout: float = 300.0
) -> Measurement:
    """Run ``collector`` in the client namespace and return its record (must be an RTT one)."""
    record = lab.run_collector(collector, target, params, timeout=timeout)
    if not isinstance(record, Measurement):
        raise LabError(f"runner returned {type(record).__name__}, not a Measurement")
    if record.result is not None and not isinstance(record.result, RttResult):
        raise LabError(f"{collector} returned a {record.result.kind} result, expected rtt")
    return record


def rtts(record: Measurement) -> list[float | None]:
    """Per-probe RTTs in sequence order (None = lost)."""
    assert isinstance(record.result, RttResult)
    return [p.rtt_s for p in sorted(record.result.probes, key=lambda p: p.seq)]
