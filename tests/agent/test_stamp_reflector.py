"""Session-Reflector: stateful counters, sizes, TTL, rate limit, REFWAIT.

RFC 8762 §4.3 and RFC 5357 §4.2.

The pure :class:`Reflector` is driven with injected clocks; the socket layer and the
``qos-agent reflector`` command are exercised for real on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from qos_agent.stamp.clock import ClockState
from qos_agent.stamp.codec import (
    ErrorEstimate,
    SenderPacket,
    decode_reflector,
    ntp_diff_s,
    ntp_from_unix_ns,
)
from qos_agent.stamp.reflector import (
    Reflector,
    ReflectorConfig,
    ReflectorServer,
    start_reference_reflector,
)

REPO = Path(__file__).resolve().parents[2]
SRC = ("10.0.0.1", 40000)


class FakeTime:
    def __init__(self) -> None:
        self.mono = 0.0
        self.wall = 1_704_067_200 * 10**9

    def monotonic(self) -> float:
        return self.mono

    def wall_ns(self) -> int:
        self.wall += 1000  # every read advances 1 µs, so T3 > T2
        return self.wall


def make(config: ReflectorConfig | None = None, synced: bool = False) -> tuple[Reflector, FakeTime]:
    t = FakeTime()
    state = ClockState(synchronized=synced, max_error_s=1e-3, source="test")
    return Reflector(
        config=config or ReflectorConfig(),
        monotonic_s=t.monotonic,
        wall_ns=t.wall_ns,
        clock_state=lambda: state,
    ), t


def probe(seq: int, ssid: int = 7, size: int = 44, ts: int = 0x1234_5678_9ABC_DEF0) -> bytes:
    return SenderPacket(seq, ts + seq, 0x8001, ssid, size=size).encode(padding=b"\xab" * size)


def test_stateful_counter_per_address_port_and_ssid() -> None:
    r, _ = make()
    seqs = [decode_reflector(r.handle(probe(i), SRC, 64)).seq for i in range(3)]  # type: ignore[arg-type]
    assert seqs == [0, 1, 2]
    other_port = decode_reflector(r.handle(probe(10), ("10.0.0.1", 40001), 64))  # type: ignore[arg-type]
    other_ssid = decode_reflector(r.handle(probe(11, ssid=8), SRC, 64))  # type: ignore[arg-type]
    again = decode_reflector(r.handle(probe(12), SRC, 64))  # type: ignore[arg-type]
    assert (other_port.seq, other_ssid.seq, again.seq) == (0, 0, 3)
    assert r.session_count == 3


def test_reply_copies_sender_fields_and_timestamps_in_order() -> None:
    r, t = make(synced=True)
    data = probe(5, ssid=0xBEEF)
    t2 = t.wall + 500
    reply = decode_reflector(r.handle(data, SRC, 61, receive_ns=t2))  # type: ignore[arg-type]
    sent = SenderPacket(5, 0x1234_5678_9ABC_DEF0 + 5, 0x8001, 0xBEEF)
    assert (reply.sender_seq, reply.sender_timestamp, reply.sender_error_estimate) == (
        sent.seq,
        sent.timestamp,
        sent.error_estimate,
    )
    assert reply.ssid == 0xBEEF
    assert reply.sender_ttl == 61
    assert reply.receive_timestamp == ntp_from_unix_ns(t2)
    assert ntp_diff_s(reply.timestamp, reply.receive_timestamp) >= 0
    est = ErrorEstimate.decode(reply.error_estimate)
    assert est.synchronized and est.valid and est.seconds >= 1e-3


def test_unknown_ttl_is_written_as_255() -> None:
    r, _ = make()
    assert decode_reflector(r.handle(probe(0), SRC, None)).sender_ttl == 255  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [44, 45, 200, 1472])
def test_reply_has_exactly_the_received_size(size: int) -> None:
    r, _ = make()
    data = probe(0, size=size)
    reply = r.handle(data, SRC, 64)
    assert reply is not None and len(reply) == size
    if size > 44:  # RFC 8762 §4.3: the sender's octets beyond the base packet are carried back
        assert reply[44:] == data[44:]


@pytest.mark.parametrize("size", [41, 42, 43])
def test_padded_twamp_light_request_answered_at_its_size_under_accept_short(size: int) -> None:
    r, _ = make(ReflectorConfig(accept_short=True))
    reply = r.handle(probe(0, size=size), SRC, 64)
    assert reply is not None and len(reply) == size
    assert r.stats.short_answered == 1


@pytest.mark.parametrize("size", [0, 1, 14, 40, 41, 43])
def test_too_short_gets_no_reply(size: int) -> None:
    r, _ = make()
    assert r.handle(probe(0)[:size], SRC, 64) is None
    assert r.stats.too_short == 1 and r.session_count == 0


def test_rate_limit_per_source_address() -> None:
    r, t = make(ReflectorConfig(rate_limit_pps=10, burst=5))
    answered = [r.handle(probe(i), SRC, 64) is not None for i in range(8)]
    assert answered == [True] * 5 + [False] * 3
    assert r.stats.rate_limited == 3
    # another address has its own bucket; same address, other port shares the bucket
    assert r.handle(probe(0), ("10.0.0.2", 40000), 64) is not None
    assert r.handle(probe(0), ("10.0.0.1", 40001), 64) is None
    t.mono += 0.1  # one token refilled at 10 packets/s
    assert r.handle(probe(8), SRC, 64) is not None
    assert r.handle(probe(9), SRC, 64) is None
    # rate-limited packets are not counted in the session: the sender sees forward loss
    t.mono += 1.0
    assert decode_reflector(r.handle(probe(10), SRC, 64)).seq == 6  # type: ignore[arg-type]


def test_sessions_expire_after_refwait() -> None:
    r, t = make(ReflectorConfig(refwait_s=10))
    r.handle(probe(0), SRC, 64)
    r.handle(probe(1), SRC, 64)
    t.mono += 9.0
    assert decode_reflector(r.handle(probe(2), SRC, 64)).seq == 2  # type: ignore[arg-type]
    t.mono += 10.5
    r.handle(probe(0), ("10.0.0.9", 1), 64)  # any packet triggers expiry of silent sessions
    assert r.stats.sessions_expired == 1
    assert decode_reflector(r.handle(probe(3), SRC, 64)).seq == 0  # type: ignore[arg-type]


def test_session_table_is_bounded() -> None:
    r, _ = make(ReflectorConfig(max_sessions=3, rate_limit_pps=1e6, burst=10**6))
    for port in range(10):
        r.handle(probe(0), ("10.0.0.1", port), 64)
    assert r.session_count == 3 and r.stats.sessions_evicted == 7


# --------------------------------------------------------------------------- sockets
def test_server_binds_loopback_by_default_and_reports_ttl_and_kernel_t2() -> None:
    with ReflectorServer(port=0).start() as server:
        assert server.address[0] == "127.0.0.1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 77)
            s.settimeout(2)
            before = ntp_from_unix_ns(__import__("time").time_ns())
            s.sendto(probe(3, size=60), server.address)
            data, source = s.recvfrom(2048)
            after = ntp_from_unix_ns(__import__("time").time_ns())
    reply = decode_reflector(data)
    assert source == server.address and len(data) == 60
    assert reply.sender_ttl == 77 and reply.sender_seq == 3 and reply.seq == 0
    assert ntp_diff_s(reply.receive_timestamp, before) >= 0
    assert ntp_diff_s(after, reply.timestamp) >= 0
    assert ntp_diff_s(reply.timestamp, reply.receive_timestamp) >= 0


def test_ipv6_loopback_hop_limit() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support in this Python")
    try:
        server = ReflectorServer("::1", 0).start()
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    with server, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 99)
        s.settimeout(2)
        s.sendto(probe(1), server.address)
        data, _ = s.recvfrom(2048)
    assert decode_reflector(data).sender_ttl == 99
    assert server.target.startswith("[::1]:")


def test_reference_service_answers() -> None:
    service = start_reference_reflector()
    try:
        host, _, port = service.target.rpartition(":")
        assert host == "127.0.0.1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(probe(0), (host, int(port)))
            assert decode_reflector(s.recvfrom(2048)[0]).sender_seq == 0
    finally:
        service.stop()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "agent")])}


def test_reflector_command_serves_and_stops_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qos_agent.cli", "reflector", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(probe(0), ("127.0.0.1", port))
            assert len(s.recvfrom(2048)[0]) == 44
            s.sendto(b"\x00" * 10, ("127.0.0.1", port))  # too short: ignored, no crash
            s.sendto(probe(1), ("127.0.0.1", port))  # answered after it: it was processed
            assert decode_reflector(s.recvfrom(2048)[0]).sender_seq == 1
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "received=3 reflected=2 too_short=1" in out


def test_reflector_command_without_port_when_unprivileged(monkeypatch: pytest.MonkeyPatch) -> None:
    from qos.errors import ConfigError
    from qos_agent.commands import reflector as command

    monkeypatch.setattr(command, "_privileged", lambda: False)
    with pytest.raises(ConfigError, match="--port 8620"):
        command.resolve_port(None)
    monkeypatch.setattr(command, "_privileged", lambda: True)
    assert command.resolve_port(None) == 862
    assert command.resolve_port(8620) == 8620


def test_twamp_light_interop_41_octets() -> None:
    """RFC 5357 §4.1.2 unauthenticated sender (14 octets + 27 padding) against the server
    started with ``accept_short`` (by default it answers only ≥ 44 octets); the reply is
    parsed with RFC 5357 §4.2.1 offsets by hand, not with our codec."""
    import struct
    import time

    seq, ts, err = 0xDEADBEEF, (3_913_056_000 << 32) | 0x40000000, 0x8001
    sender = struct.pack("!IQH", seq, ts, err) + bytes(27)
    assert len(sender) == 41
    with (
        ReflectorServer(
            port=0, reflector=Reflector(ReflectorConfig(accept_short=True))
        ).start() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
    ):
        s.settimeout(2)
        s.sendto(sender, server.address)
        data = s.recv(2048)
    assert len(data) == 41  # symmetric: never more than received, TWAMP-Light minimum
    (r_seq, r_ts, r_err, mbz1, rx_ts, s_seq, s_ts, s_err, mbz2, s_ttl) = struct.unpack(
        "!IQHHQIQHHB", data
    )
    assert (s_seq, s_ts, s_err) == (seq, ts, err)
    assert r_seq == 0 and mbz1 == 0 and mbz2 == 0 and s_ttl == 64  # Linux default TTL
    now = ntp_from_unix_ns(time.time_ns())
    assert 0 <= ntp_diff_s(now, rx_ts) < 5 and ntp_diff_s(r_ts, rx_ts) >= 0
    assert ErrorEstimate.decode(r_err).valid


def test_server_survives_a_failing_handler(caplog: pytest.LogCaptureFixture) -> None:
    class Buggy(Reflector):
        def handle(self, data, source, ttl, receive_ns=None):  # type: ignore[no-untyped-def]
            if data[:4] == (13).to_bytes(4, "big"):
                raise RuntimeError("bug")
            return super().handle(data, source, ttl, receive_ns)

    with (
        ReflectorServer(port=0, reflector=Buggy()).start() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
    ):
        s.settimeout(2)
        s.sendto(probe(13), server.address)
        s.sendto(probe(14), server.address)
        assert decode_reflector(s.recv(2048)).sender_seq == 14
    assert server.reflector.stats.errors == 1
    assert "reflector failed" in caplog.text
