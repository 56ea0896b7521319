"""Lab acceptance for latency under load (RFC 6349 §4.3; docs/methods.md §6.10, §12.2).

A tbf bottleneck of rate R with a deep queue of Q bytes sits in the router namespace.  While
an iperf3-protocol load saturates it, the queue stays nearly full, so every probe crossing
it waits about Q·8/R longer than on the idle path.  The collector must report that increase
(loaded median − idle median) and the responsiveness figure derived from it.

The load uses a loss-based congestion control (CUBIC, the ``congestion`` parameter, like
``iperf3 -C``): it grows its window until the FIFO overflows, which is what makes a deep queue
"bloat".  This host's default, BBR, deliberately keeps the queue short (it paces at the
estimated bottleneck rate), so under BBR the increase is far below Q·8/R — measured
here at about 40–50 ms for a 100 ms queue.
"""

from __future__ import annotations

import pytest

from qos.records import RttResult, Status
from qos_lab import peers
from qos_lab.netlab import Lab, Rate

pytestmark = [pytest.mark.lab, pytest.mark.slow]

RATE_BPS = 20e6
QUEUE_BYTES = 250_000  # 100 ms at 20 Mbit/s


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_loaded_latency_rises_by_queue_over_rate(shared_lab: Lab, direction: str) -> None:
    lab = shared_lab
    # the load's data direction gets the deep queue; probes cross it one way
    lab.set_rate(
        "backward" if direction == "download" else "forward",
        Rate(RATE_BPS, queue_bytes=QUEUE_BYTES),
    )
    peers.start_iperf3_server(lab)
    m = lab.run_collector(
        "loaded_latency",
        f"{lab.server_addr}:{peers.IPERF3_PORT}",
        {
            "direction": direction,
            "streams": 4,
            "duration": 8,
            "warmup": 2,
            "idle": 2,
            "interval": 0.05,
            "probe": "icmp",
            "congestion": "cubic",
        },
    )
    assert m.status is Status.OK, m.error  # type: ignore[attr-defined]
    result = m.result  # type: ignore[attr-defined]
    assert isinstance(result, RttResult)
    d = result.details
    expected = QUEUE_BYTES * 8 / RATE_BPS
    print(
        f"\n{direction}: idle median {d['idle_rtt_median_s'] * 1e3:.3f} ms, loaded median "
        f"{d['loaded_rtt_median_s'] * 1e3:.1f} ms, increase {d['latency_increase_s'] * 1e3:.1f}"
        f" ms (queue/rate {expected * 1e3:.0f} ms), {d['responsiveness_rpm']:.0f} RPM under "
        f"load, load goodput {d['load_goodput_bps'] / 1e6:.2f} Mbit/s, loaded loss "
        f"{d['loaded_loss_ratio']:.3f}"
    )
    assert d["probe"] == "icmp" and d["load_status"] == "ok"
    assert d["idle_rtt_median_s"] < 0.005  # veth path, no queue
    # a full FIFO adds Q·8/R (tbf's own figure: (limit − burst)/rate = 93.4 ms); CUBIC's
    # sawtooth keeps it near full
    assert 0.8 * expected <= d["latency_increase_s"] <= 1.05 * expected
    assert d["responsiveness_rpm"] == pytest.approx(60 / d["loaded_rtt_median_s"])
    assert d["responsiveness_rpm"] < 60 / (0.8 * expected)
    assert d["load_goodput_bps"] <= RATE_BPS
    assert d["load_goodput_bps"] > 0.85 * RATE_BPS
