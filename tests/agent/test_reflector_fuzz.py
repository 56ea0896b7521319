"""Bad input never crashes the reflector and never gets amplified.

Hypothesis feeds arbitrary bytes to the pure handler and, on a smaller budget, through a
real loopback socket to a running server, which must still answer a valid probe after.

Two size bounds, one per configuration:

* default: a reply **never has more octets than the request** (requests under the 41-octet
  TWAMP-Light minimum get no reply at all);
* ``accept_short``: requests of 14–40 octets are answered with the 44-octet base packet, so
  the bound becomes ``len(reply) ≤ max(len(request), 44)`` — still exactly the request's
  size from 41 octets up, at most 44 / 14 ≈ 3.1 times a short request, which the separate
  per-source rate limit for short requests caps.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qos_agent.stamp.codec import MAX_SIZE, SenderPacket, decode_reflector
from qos_agent.stamp.reflector import Reflector, ReflectorConfig, ReflectorServer

LIMITLESS = ReflectorConfig(rate_limit_pps=1e9, burst=10**9)
SOURCES = st.tuples(
    st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "fe80::1%lo"]), st.integers(0, 65535)
)


@given(
    data=st.binary(max_size=3000),
    source=SOURCES,
    ttl=st.one_of(st.none(), st.integers(-5, 300)),
    receive_ns=st.one_of(st.none(), st.integers(0, 2**63)),
)
def test_pure_handler_never_raises_or_amplifies(
    data: bytes, source: tuple[str, int], ttl: int | None, receive_ns: int | None
) -> None:
    reflector = Reflector(config=LIMITLESS)
    reply = reflector.handle(data, source, ttl, receive_ns)
    if len(data) < 41:
        assert reply is None
        return
    assert reply is not None and len(reply) == len(data)
    parsed = decode_reflector(reply)
    assert parsed.sender_seq == int.from_bytes(data[:4], "big")
    assert parsed.sender_timestamp == int.from_bytes(data[4:12], "big")
    assert parsed.sender_ttl is not None and 0 <= parsed.sender_ttl <= 255


@given(
    data=st.binary(max_size=3000),
    source=SOURCES,
    ttl=st.one_of(st.none(), st.integers(-5, 300)),
    mode=st.sampled_from(["stateful", "stateless"]),
)
def test_accept_short_handler_never_exceeds_max_of_request_and_44(
    data: bytes, source: tuple[str, int], ttl: int | None, mode: str
) -> None:
    config = ReflectorConfig(
        rate_limit_pps=1e9, burst=10**9, accept_short=True, short_burst=10**9, mode=mode
    )
    reflector = Reflector(config=config)
    reply = reflector.handle(data, source, ttl)
    if len(data) < 14:  # not even the RFC 5357 §4.1.2 head: never answered
        assert reply is None
        return
    assert reply is not None and len(reply) <= max(len(data), 44)
    assert len(reply) == (44 if len(data) < 41 else len(data))
    parsed = decode_reflector(reply)
    assert parsed.sender_seq == int.from_bytes(data[:4], "big")
    assert parsed.sender_timestamp == int.from_bytes(data[4:12], "big")
    assert parsed.sender_error_estimate == int.from_bytes(data[12:14], "big")
    assert parsed.sender_ttl is not None and 0 <= parsed.sender_ttl <= 255
    if mode == "stateless":
        assert parsed.seq == parsed.sender_seq


@pytest.mark.parametrize("size", [MAX_SIZE, MAX_SIZE + 1, 10**6])
def test_oversized_datagrams(size: int) -> None:
    reflector = Reflector(config=LIMITLESS)
    reply = reflector.handle(b"\xff" * size, ("127.0.0.1", 1), 64)
    assert reply is None if size > MAX_SIZE else len(reply or b"") == size


@pytest.fixture(scope="module")
def server() -> Iterator[ReflectorServer]:
    with ReflectorServer("127.0.0.1", 0, Reflector(config=LIMITLESS)).start() as srv:
        yield srv


def _valid_probe_answered(server: ReflectorServer, sock: socket.socket) -> None:
    sock.sendto(SenderPacket(99, 1 << 40, 0x8001, 1).encode(), server.address)
    while True:  # replies to earlier fuzz datagrams may still be queued
        data = sock.recv(70000)
        if len(data) == 44 and decode_reflector(data).sender_seq == 99:
            return


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000))
def test_socket_round_never_amplifies(server: ReflectorServer, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(data, server.address)
        if len(data) >= 41:
            reply = s.recv(70000)
            assert len(reply) == len(data)
        _valid_probe_answered(server, s)


def test_socket_random_corpus_and_giants_keep_server_alive(server: ReflectorServer) -> None:
    rng = random.Random(4)
    sizes = [0, 1, 13, 40, 41, 43, 44, 45, 1472, 9000, MAX_SIZE] + [
        rng.randrange(0, 1600) for _ in range(200)
    ]
    short_before = server.reflector.stats.too_short
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        s.settimeout(2)
        for size in sizes:  # one at a time: loopback buffer overflow is not the question
            s.sendto(rng.randbytes(size), server.address)
            if size >= 44:  # the STAMP base packet and longer: answered at their own size
                assert len(s.recv(70000)) == size
        s.settimeout(0.2)
        with pytest.raises(TimeoutError):  # and nothing for the short ones
            s.recv(70000)
        s.settimeout(2)
        _valid_probe_answered(server, s)
    assert server.reflector.stats.too_short - short_before == sum(1 for n in sizes if n < 44)


@given(data=st.binary(max_size=200))
def test_sender_discards_arbitrary_replies_without_crashing(data: bytes) -> None:
    from qos_agent.stamp.clock import ClockState
    from qos_agent.stamp.sender import StampSender

    with StampSender(
        ("127.0.0.1", 9), socket.AF_INET, ssid=5, clock_state=ClockState(False, 1.0, "test")
    ) as sender:
        sender.send(0)
        sender._accept(data, 10**18, None)
        assert sender.replies == {} and sender.discarded == 1
