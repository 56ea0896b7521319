"""The small fixture data set the notebooks run against in CI.

``python -m tests.analysis.notebook_fixture DIR`` writes it to DIR.

Two agents, one day of 5-minute ICMP streams (30 probes each) with a slow, lossy evening,
a few failed attempts and two speed tests, written as the JSONL export layout
(``measurements.jsonl`` + ``agents.csv``) through qos.records / qos.serialization.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from qos.records import Status
from qos.serialization import dumps
from tests.analysis.synthetic import T0, failed_rtt, rtt_measurement, throughput


def write_fixture(out: Path) -> Path:
    """Write ``measurements.jsonl`` and ``agents.csv`` into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    records = []
    for agent, _zone in (("home-berlin", "Europe/Berlin"), ("office-delhi", "Asia/Kolkata")):
        for k in range(288):
            start = T0 + timedelta(minutes=5 * k)
            evening = 18 <= start.hour < 22
            records.append(
                rtt_measurement(
                    rng,
                    start,
                    30,
                    agent_id=agent,
                    target="198.18.0.1",
                    base_rtt_s=0.060 if evening else 0.018,
                    jitter_s=0.030 if evening else 0.004,
                    loss=0.03 if evening else 0.002,
                    burst_len=3.0 if evening else 1.0,
                )
            )
        records.append(failed_rtt(T0 + timedelta(hours=20, minutes=2), count=30, agent_id=agent))
        records.append(
            failed_rtt(
                T0 + timedelta(hours=20, minutes=7),
                count=30,
                agent_id=agent,
                with_probes=False,
                status=Status.UNREACHABLE,
            )
        )
        records.append(throughput(T0 + timedelta(hours=9), 94e6, agent_id=agent))
        records.append(throughput(T0 + timedelta(hours=21), 41e6, agent_id=agent))
    records.sort(key=lambda m: m.started_at)
    with (out / "measurements.jsonl").open("w", encoding="utf-8") as handle:
        for m in records:
            handle.write(dumps(m) + "\n")
    (out / "agents.csv").write_text(
        "agent_id,timezone\nhome-berlin,Europe/Berlin\noffice-delhi,Asia/Kolkata\n"
    )
    return out


if __name__ == "__main__":
    import sys

    write_fixture(Path(sys.argv[1]))
