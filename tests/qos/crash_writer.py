"""Child process for tests/qos/test_store_crash.py: writes measurements until it is killed.

``python -m tests.qos.crash_writer STORE ROUND`` opens the store, prints ``ready`` and then
appends deterministic measurements (see :func:`build`), printing each id on its own line
right after ``append`` returned — so every printed id is a measurement the store promised
to keep.  The parent SIGKILLs it at a random moment and checks that promise.  Standard
library and ``qos`` only, so that it starts quickly.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

from qos.records import (
    LossDirection,
    Measurement,
    ProbeSample,
    ThroughputInterval,
)
from qos.store import SqliteStore
from tests.factories import measurement, rtt_result, throughput_result

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MAX_RUNTIME_S = 30.0  # a child that somehow escapes the kill still ends by itself


def build(round_no: int, i: int) -> Measurement:
    """The i-th measurement of a round; every fifth is a throughput record."""
    mid = f"{round_no:04x}{i:028x}"
    started = T0 + timedelta(seconds=round_no * 100_000 + i, microseconds=i % 997)
    if i % 5 == 4:
        n = 10 + i % 11
        return measurement(
            agent_id="crash-agent",
            collector="iperf3",
            target="127.0.0.1:5201",
            started_at=started,
            duration_s=10.0,
            id=mid,
            result=throughput_result(
                n * 125_000,
                1e6,
                streams=1,
                warmup_s=2.0,
                intervals=(ThroughputInterval(0, float(k), 1.0, 125_000, k < 2) for k in range(n)),
            ),
            labels={"round": str(round_no), "intervals": str(n)},
        )
    n = 45 + i % 11  # about 50 probes, varying so that a truncated record would show
    probes = tuple(
        ProbeSample(
            seq=k,
            send_offset_s=k * 0.02,
            rtt_s=None if (i + k) % 13 == 0 else 0.001 + (i * 31 + k) % 97 * 1e-5,
            ttl=64,
            lost_direction=LossDirection.UNKNOWN if (i + k) % 13 == 0 else None,
        )
        for k in range(n)
    )
    return measurement(
        agent_id="crash-agent",
        started_at=started,
        id=mid,
        result=rtt_result(probes),
        params={"count": n},
        labels={"round": str(round_no), "probes": str(n)},
    )


def main(argv: list[str]) -> int:
    path, round_no = argv[1], int(argv[2])
    store = SqliteStore(path)
    print("ready", flush=True)
    deadline = time.monotonic() + MAX_RUNTIME_S
    i = 0
    while time.monotonic() < deadline:
        m = build(round_no, i)
        store.append(m)
        sys.stdout.write(m.id + "\n")
        sys.stdout.flush()
        i += 1
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
