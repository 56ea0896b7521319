"""A small mixed batch of records (RTT with STAMP one-way fields, throughput, timing, a failed
test) built with the shared synthetic helpers, for dataset and collector tests."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from qos.records import Measurement
from tests.analysis.synthetic import T0, failed_rtt, rtt_measurement, throughput, timing


def mixed_batch(agent_id: str = "agent-a", *, seed: int = 1, hours: int = 4) -> list[Measurement]:
    rng = np.random.default_rng(seed)
    out: list[Measurement] = []
    for h in range(hours):
        t = T0 + timedelta(hours=h * 9)  # the fourth test falls on the next UTC day
        out.append(
            rtt_measurement(
                rng, t, 50, base_rtt_s=0.02, jitter_s=0.005, loss=0.02, agent_id=agent_id
            )
        )
        out.append(
            rtt_measurement(
                rng,
                t,
                20,
                base_rtt_s=0.03,
                jitter_s=0.002,
                loss=0.05,
                one_way=True,
                collector="stamp",
                agent_id=agent_id,
            )
        )
        out.append(throughput(t + timedelta(minutes=5), 9.0e7 + h, agent_id=agent_id))
        out.append(timing(t + timedelta(minutes=6), 0.12, agent_id=agent_id))
    out.append(failed_rtt(T0 + timedelta(minutes=30), count=10, agent_id=agent_id))
    return out
