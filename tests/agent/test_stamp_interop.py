"""Interop with an independent STAMP encoder: Scapy's ``scapy.contrib.stamp``.

* our Session-Sender (the ``stamp`` collector) against a stateless reflector whose replies
  Scapy builds (TWAMP-Light style: the sender's sequence number copied back);
* Scapy-built sender packets against our reflector, the replies dissected by Scapy.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from qos.records import Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.stamp.codec import NTP_UNIX_OFFSET_S
from qos_agent.stamp.reflector import ReflectorServer

stamp = pytest.importorskip("scapy.contrib.stamp", reason="Scapy (dev extra) not installed")


def ntp_now() -> float:
    return time.time() + NTP_UNIX_OFFSET_S


@pytest.fixture
def scapy_reflector() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if not select.select([sock], [], [], 0.05)[0]:
                continue
            data, source = sock.recvfrom(4096)
            t2 = ntp_now()
            probe = stamp.STAMPSessionSenderTestUnauthenticated(data)
            reply = stamp.STAMPSessionReflectorTestUnauthenticated(
                seq=probe.seq,
                ssid=probe.ssid,
                ts_rx=t2,
                seq_sender=probe.seq,
                ts_sender=probe.ts,
                ttl_sender=255,
                err_estimate=stamp.ErrorEstimate(S=0, Z=0, scale=20, multiplier=1),
                err_estimate_sender=probe.err_estimate,
                ts=ntp_now(),
            )
            sock.sendto(bytes(reply), source)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@pytest.mark.parametrize("mode", ["auto", "stateless"])
def test_our_sender_against_a_scapy_reflector(scapy_reflector: str, mode: str) -> None:
    m = run_collector(
        get("stamp"),
        scapy_reflector,
        {"count": "50", "interval": "5ms", "reflector": mode},
        MeasureContext(agent_id="test"),
    )
    assert m.status is Status.OK, m.error
    r = m.result
    assert r is not None and r.received == 50 and r.details["discarded"] == 0
    assert r.details["reflector_mode"] == ("unknown" if mode == "auto" else "stateless")
    for p in r.probes:
        # a real round trip: positive and within the collector's timeout (the Scapy
        # reflector is a normal-priority Python process: a busy host can delay its reads
        # by tens of ms, so no tighter bound holds there)
        assert p.rtt_s is not None and 0 < p.rtt_s < 1.0
        assert p.reflector_residence_s is not None and p.reflector_residence_s >= 0
        assert p.one_way_valid is False  # Scapy reflector says S = 0


def test_scapy_sender_against_our_reflector() -> None:
    t1 = Decimal(3_913_056_000) + Decimal(1) / Decimal(4)  # exactly representable in Scapy's field
    probe = stamp.STAMPSessionSenderTestUnauthenticated(
        seq=77, ts=t1, ssid=0x2A2A, err_estimate=stamp.ErrorEstimate(S=1, scale=0, multiplier=1)
    )
    with (
        ReflectorServer(port=0).start() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
    ):
        s.settimeout(2)
        s.sendto(bytes(probe), server.address)
        data = s.recv(4096)
    reply = stamp.STAMPSessionReflectorTestUnauthenticated(data)
    assert len(data) == len(bytes(probe)) == 44
    assert (reply.seq, reply.seq_sender, reply.ssid, reply.ttl_sender) == (0, 77, 0x2A2A, 64)
    assert reply.ts_sender == t1
    assert reply.err_estimate_sender.S == 1 and reply.err_estimate_sender.multiplier == 1
    assert reply.err_estimate.multiplier != 0
    assert reply.ts >= reply.ts_rx and abs(float(reply.ts_rx) - ntp_now()) < 5
