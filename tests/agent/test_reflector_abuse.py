"""The STAMP reflector outlasts one greedy source: a flood of new sessions (ports, SSIDs)
from one address evicts only that address's own sessions, so another sender's stateful
counter (RFC 8762 §4.2) continues without a reset, on real UDP sockets over loopback."""

from __future__ import annotations

import socket
import threading
import time
from itertools import pairwise

import pytest

from qos_agent.stamp.codec import SenderPacket, decode_reflector
from qos_agent.stamp.reflector import Reflector, ReflectorConfig, ReflectorServer

FLOODER = "127.0.0.2"  # Linux routes all of 127/8 to loopback
FLOOD_PORTS = 40
SESSIONS = 32  # global cap for the test; the per-source share is 32 // 16 = 2


def _probe(seq: int, ssid: int) -> bytes:
    return SenderPacket(seq, 0, 0x8001, ssid, size=44).encode(padding=b"\0" * 44)


def _usable(address: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _usable(FLOODER), reason=f"cannot bind {FLOODER}")
def test_a_session_flood_from_one_address_never_resets_another_senders_counter() -> None:
    config = ReflectorConfig(max_sessions=SESSIONS, rate_limit_pps=1e6, burst=100_000)
    assert config.sessions_per_source == 2
    server = ReflectorServer("127.0.0.1", 0, Reflector(config)).start()
    stop = threading.Event()

    def flood() -> None:
        socks = []
        for _ in range(FLOOD_PORTS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((FLOODER, 0))
            socks.append(sock)
        ssid = 0
        while not stop.is_set():
            for sock in socks:  # every packet a new (port, SSID): a new session
                ssid = ssid % 65535 + 1
                sock.sendto(_probe(0, ssid), server.address)
            time.sleep(0.01)
        for sock in socks:
            sock.close()

    flooder = threading.Thread(target=flood, daemon=True)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.bind(("127.0.0.1", 0))
            sender.settimeout(0.5)
            flooder.start()
            reflected = []
            for seq in range(60):
                sender.sendto(_probe(seq, 4242), server.address)
                try:  # a datagram may be lost in a full socket buffer on a busy host
                    reply = decode_reflector(sender.recv(4096))
                except TimeoutError:
                    continue
                reflected.append(reply.seq)
                time.sleep(0.02)
    finally:
        stop.set()
        flooder.join(5)
        stats = server.reflector.stats
        server.stop()
    # The session's counter only ever grows: never evicted, never reset to 0.
    assert len(reflected) >= 50, reflected
    assert reflected[0] == 0 and all(b > a for a, b in pairwise(reflected)), reflected
    assert stats.sessions_evicted > 1000  # the flood did churn (its own) sessions
    assert stats.errors == 0
    assert server.reflector.session_count <= SESSIONS


def test_per_source_share_is_below_the_global_cap() -> None:
    assert ReflectorConfig().sessions_per_source == 256
    assert ReflectorConfig(max_sessions=8).sessions_per_source == 1
    with pytest.raises(ValueError):
        ReflectorConfig(max_sessions=8, max_sessions_per_source=9)
