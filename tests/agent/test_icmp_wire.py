"""ICMP echo wire format: checksums, reply and error parsing, a real loopback exchange."""

from __future__ import annotations

import os
import select
import socket
import struct

import pytest

from qos_agent.collectors.icmp_wire import (
    EchoWriter,
    can_open,
    checksum,
    open_socket,
    parse_reply,
    socket_identifier,
)


def test_incremental_checksum_equals_a_full_rfc1071_checksum() -> None:
    payload = os.urandom(57)  # odd length on purpose
    writer = EchoWriter(socket.AF_INET, 0xBEEF, payload, privileged=True)
    for seq in (0, 1, 0x7FFF, 0xFFFE, 0xFFFF, 0x10005):
        packet = bytes(writer.packet(seq))
        assert checksum(packet) == 0  # a packet with a correct checksum sums to 0
        kind, code, _c, ident, sequence = struct.unpack_from("!BBHHH", packet)
        assert (kind, code, ident, sequence) == (8, 0, 0xBEEF, seq & 0xFFFF)
        assert packet[8:] == payload


def test_known_vector_rfc1071_example() -> None:
    # RFC 1071 §3 example bytes 00 01 f2 03 f4 f5 f6 f7: one's complement sum ddf2
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2) & 0xFFFF


def _ipv4(payload: bytes, ttl: int = 61) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, 1, 0, bytes(4), bytes(4)
    )
    return header + payload


def test_parse_echo_reply_and_quoted_error() -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 0x1234, 7) + b"x" * 8
    assert parse_reply(_ipv4(reply), socket.AF_INET, True) == (0, 0, 0x1234, 7, 61)
    assert parse_reply(reply, socket.AF_INET, False) == (0, 0, 0x1234, 7, None)
    request = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 9) + b"x" * 8
    unreachable = struct.pack("!BBHI", 3, 1, 0, 0) + _ipv4(request)
    assert parse_reply(_ipv4(unreachable), socket.AF_INET, True) == (3, 1, 0x1234, 9, 61)
    quoted_v6 = bytes(40) + struct.pack("!BBHHH", 128, 0, 0, 0x4321, 3)
    exceeded_v6 = struct.pack("!BBHI", 3, 0, 0, 0) + quoted_v6
    assert parse_reply(exceeded_v6, socket.AF_INET6, True) == (3, 0, 0x4321, 3, None)
    assert parse_reply(b"\x45" + bytes(10), socket.AF_INET, True) is None
    assert parse_reply(_ipv4(struct.pack("!BBHI", 3, 1, 0, 0)), socket.AF_INET, True) is None


@pytest.mark.parametrize("privileged", [True, False])
def test_a_real_echo_exchange_on_loopback(privileged: bool) -> None:
    reason = can_open(socket.AF_INET, privileged)
    if reason is not None:
        pytest.skip(f"cannot open this ICMP socket here: {reason}")
    sock = open_socket(socket.AF_INET, privileged, ttl=33)
    try:
        ident = socket_identifier(sock, 0x2222, privileged)
        writer = EchoWriter(socket.AF_INET, ident, b"qos-wire-test", privileged)
        sock.sendto(writer.packet(4242), ("127.0.0.1", 0))
        ident = socket_identifier(sock, ident, privileged)
        seen = {}
        for _ in range(10):
            ready, _, _ = select.select([sock], [], [], 2.0)
            assert ready, "no ICMP reply from 127.0.0.1"
            parsed = parse_reply(sock.recv(65535), socket.AF_INET, privileged)
            if parsed and parsed[2] == ident and parsed[3] == 4242:
                seen[parsed[0]] = parsed
            if 0 in seen and (not privileged or 8 in seen):
                break
        assert seen[0][:4] == (0, 0, ident, 4242)
        if privileged:  # a raw socket also sees our own request, with the TTL we set
            assert seen[8][4] == 33
            with open("/proc/sys/net/ipv4/ip_default_ttl") as fh:
                assert seen[0][4] == int(fh.read())  # the kernel's reply uses its default
    finally:
        sock.close()
