"""``stamp`` collector on loopback against real reflectors (RFC 8762 §4).

Ground truth comes from a scripted reflector thread that wraps the real
:class:`~qos_agent.stamp.reflector.Reflector` and drops, holds, duplicates or reorders
chosen packets *by sequence number* — so which probe was lost in which direction, and how
long it was held, is known exactly.  The real ``qos-agent reflector`` and ``qos-agent
once`` commands are exercised in subprocesses.
"""

from __future__ import annotations

import heapq
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qos.metrics import summarize_rtt
from qos.records import LossDirection, Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.collectors.stamp import parse_target
from qos_agent.reference import ReferenceServices
from qos_agent.stamp.codec import ReflectorPacket, decode_reflector, decode_sender
from qos_agent.stamp.net import SO_TIMESTAMPNS, receive
from qos_agent.stamp.reflector import Reflector, ReflectorConfig, ReflectorServer

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Action:
    forward_drop: bool = False  # lost before the reflector: its counter does not move
    backward_drop: bool = False  # reflected (counter moves), reply lost on the way back
    residence_s: float = 0.0  # held inside the reflector: T3 − T2 grows, RTT must not
    backward_delay_s: float = 0.0  # held after T3: looks like path delay, RTT grows
    copies: int = 1


class ScriptedReflector:
    """A loopback reflector whose per-packet fate is chosen by ``policy(sender_seq)``."""

    def __init__(
        self, policy: Callable[[int], Action], mangle: Callable[[bytes], list[bytes]] | None = None
    ) -> None:
        self.policy = policy
        self.mangle = mangle
        self.reflector = Reflector(config=ReflectorConfig(rate_limit_pps=1e6, burst=10**6))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.target = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._n = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _later(self, at: float, job: Callable[[], None]) -> None:
        self._n += 1
        heapq.heappush(self._queue, (at, self._n, job))

    def _serve(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                heapq.heappop(self._queue)[2]()
            wait = min(0.05, max(0.0, self._queue[0][0] - now)) if self._queue else 0.05
            if not select.select([self.sock], [], [], wait)[0]:
                continue
            data, source, ttl, stamp_ns = receive(self.sock)
            self._on_datagram(data, source, ttl, stamp_ns)

    def _on_datagram(
        self, data: bytes, source: tuple[str, int], ttl: int | None, stamp_ns: int | None
    ) -> None:
        action = self.policy(decode_sender(data).seq)
        if action.forward_drop:
            return

        def reflect() -> None:
            reply = self.reflector.handle(data, source, ttl, stamp_ns)
            if reply is None or action.backward_drop:
                return
            outgoing = self.mangle(reply) if self.mangle else [reply] * action.copies
            self._later(
                time.monotonic() + action.backward_delay_s,
                lambda: [self.sock.sendto(r, source) for r in outgoing],
            )

        self._later(time.monotonic() + action.residence_s, reflect)

    def __enter__(self) -> ScriptedReflector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def run(target: str, **params: object):  # type: ignore[no-untyped-def]
    return run_collector(
        get("stamp"),
        target,
        {k: str(v) for k, v in params.items()},
        MeasureContext(agent_id="test"),
    )


@pytest.fixture(scope="module")
def reflector() -> Iterator[ReflectorServer]:
    with ReflectorServer("127.0.0.1", 0).start() as server:
        yield server


def test_loopback_stream_all_received(reflector: ReflectorServer) -> None:
    m = run(reflector.target, count=200, interval="5ms", timeout="1s")
    assert m.status is Status.OK and m.error is None
    r = m.result
    assert r is not None and r.sent == 200 and r.received == 200
    assert [p.seq for p in r.probes] == list(range(200))
    for p in r.probes:
        assert p.rtt_s is not None and 0 < p.rtt_s < 0.05
        assert p.reflector_ttl == 255  # we send TTL 255; loopback does not decrement
        assert p.ttl == 255  # the reflector sends TTL 255 too
        assert p.reflector_residence_s is not None and p.reflector_residence_s >= 0
        assert p.duplicates == 0 and p.lost_direction is None and p.size_bytes == 44
    d = r.details
    assert (d["forward_lost"], d["backward_lost"], d["lost_unknown_direction"]) == (0, 0, 0)
    assert d["forward_loss_ratio"] == 0.0 and d["backward_loss_ratio"] == 0.0
    assert d["reordered"] == 0 and d["duplicates"] == 0 and d["discarded"] == 0
    assert d["ssid_echoed"] is True and 1 <= d["ssid"] <= 65535
    # no clock is NTP-disciplined here: one-way delays must be flagged, not reported
    if not d["sender_clock_synchronized"]:
        assert d["one_way_valid"] is False and d["forward_delay_median_s"] is None
        assert all(p.one_way_valid is False for p in r.probes)


def test_fixed_rate_schedule_not_stop_and_wait() -> None:
    # replies held 60 ms on the way back while we send every 10 ms: a stop-and-wait sender
    # would need ≥ 50 × 60 ms; the schedule keeps packet i at i × 10 ms
    with ScriptedReflector(lambda seq: Action(backward_delay_s=0.06)) as refl:
        m = run(refl.target, count=50, interval="10ms", timeout="1s")
    r = m.result
    assert m.status is Status.OK and r is not None and r.received == 50
    lateness = sorted(abs(p.send_offset_s - p.seq * 0.010) for p in r.probes)
    assert lateness[len(lateness) // 2] < 0.002
    assert r.probes[-1].send_offset_s < 0.49 + 0.05
    rtts = sorted(p.rtt_s for p in r.probes if p.rtt_s is not None)
    assert rtts[0] >= 0.0598  # held 60 ms: never less (select/sleep never fire early)
    assert rtts[len(rtts) // 2] < 0.060 + 0.005


def test_reflector_residence_is_removed_from_rtt() -> None:
    with ScriptedReflector(lambda seq: Action(residence_s=0.04)) as refl:
        m = run(refl.target, count=20, interval="20ms", timeout="1s")
    r = m.result
    assert r is not None and r.received == 20
    for p in r.probes:
        assert p.reflector_residence_s is not None and p.reflector_residence_s >= 0.0398
    rtts = sorted(p.rtt_s for p in r.probes if p.rtt_s is not None)
    assert rtts[len(rtts) // 2] < 0.005  # the 40 ms hold inside the reflector is not path delay


FORWARD = {3, 10, 11, 40}
BACKWARD = {5, 20, 21, 22}
MIXED_F, MIXED_B = {30}, {31}  # adjacent: exact counts, per-packet direction unknowable
TAIL = {58, 59}  # after the last reply: no anchor, direction unknown


def loss_policy(seq: int) -> Action:
    return Action(
        forward_drop=seq in FORWARD | MIXED_F | TAIL, backward_drop=seq in BACKWARD | MIXED_B
    )


def test_loss_direction_from_the_stateful_counter() -> None:
    with ScriptedReflector(loss_policy) as refl:
        m = run(refl.target, count=60, interval="5ms", timeout="300ms")
    r = m.result
    assert m.status is Status.OK and r is not None
    direction = {p.seq: p.lost_direction for p in r.probes if p.lost}
    assert direction == (
        {s: LossDirection.FORWARD for s in FORWARD}
        | {s: LossDirection.BACKWARD for s in BACKWARD}
        | {s: LossDirection.UNKNOWN for s in MIXED_F | MIXED_B | TAIL}
    )
    d = r.details
    assert d["forward_lost"] == len(FORWARD) + 1 and d["backward_lost"] == len(BACKWARD) + 1
    assert d["lost_unknown_direction"] == len(TAIL)
    known = 60 - len(TAIL)
    assert d["forward_loss_ratio"] == pytest.approx(5 / known)
    assert d["backward_loss_ratio"] == pytest.approx(5 / (known - 5))
    assert summarize_rtt(r)["loss_ratio"] == pytest.approx(12 / 60)


def test_duplicates_and_round_trip_reordering_are_counted() -> None:
    def policy(seq: int) -> Action:
        if seq % 10 == 0:
            return Action(copies=2)
        if seq % 10 == 4:  # held 25 ms on the way back: overtaken by seq+1 and seq+2
            return Action(backward_delay_s=0.025)
        return Action()

    with ScriptedReflector(policy) as refl:
        m = run(refl.target, count=40, interval="10ms", timeout="500ms", reflector="stateful")
    r = m.result
    assert r is not None and r.received == 40
    d = r.details
    assert d["duplicates"] == 4 and sum(p.duplicates for p in r.probes) == 4
    assert d["reordered"] == 4  # each held packet arrives after a higher sequence number
    assert d["forward_reordered"] == 0  # the reflector saw everything in order
    assert (d["forward_lost"], d["backward_lost"]) == (0, 0)


def as_stateless(reply: bytes) -> list[bytes]:
    """What a stateless TWAMP-Light reflector sends: our sequence number copied back."""
    return [reply[24:28] + reply[4:]]


@pytest.mark.parametrize("declared", ["auto", "stateless"])
def test_stateless_reflector_losses_have_unknown_direction(declared: str) -> None:
    with ScriptedReflector(loss_policy, mangle=as_stateless) as refl:
        m = run(refl.target, count=60, interval="5ms", timeout="300ms", reflector=declared)
    r = m.result
    assert m.status is Status.OK and r is not None and r.received == 60 - 12
    assert {p.lost_direction for p in r.probes if p.lost} == {LossDirection.UNKNOWN}
    d = r.details
    assert d["reflector_mode"] == ("unknown" if declared == "auto" else "stateless")
    assert d["forward_lost"] is None and d["forward_loss_ratio"] is None
    assert d["backward_lost"] is None and d["backward_loss_ratio"] is None
    assert d["lost_unknown_direction"] == 12


def test_auto_mode_detects_a_stateful_reflector_from_forward_loss() -> None:
    with ScriptedReflector(loss_policy) as refl:
        m = run(refl.target, count=60, interval="5ms", timeout="300ms")
    assert m.result is not None and m.result.details["reflector_mode"] == "stateful"


def test_replies_that_do_not_match_the_session_are_discarded() -> None:
    def mangle(reply: bytes) -> list[bytes]:
        p = decode_reflector(reply)
        fields = dict(
            seq=p.seq,
            timestamp=p.timestamp,
            error_estimate=p.error_estimate,
            ssid=p.ssid,
            receive_timestamp=p.receive_timestamp,
            sender_seq=p.sender_seq,
            sender_timestamp=p.sender_timestamp,
            sender_error_estimate=p.sender_error_estimate,
            sender_ttl=p.sender_ttl,
        )
        wrong_ssid = ReflectorPacket(**{**fields, "ssid": (p.ssid % 65535) + 1}).encode()
        unsent_seq = ReflectorPacket(**{**fields, "sender_seq": p.sender_seq + 1000}).encode()
        wrong_t1 = ReflectorPacket(
            **{**fields, "sender_timestamp": p.sender_timestamp + (1 << 22)}  # ~1 ms off
        ).encode()
        # 35 octets: one short of the copied sender Timestamp (36–40 are valid TWAMP-Light)
        return [wrong_ssid, unsent_seq, wrong_t1, reply[:35], b""]

    with ScriptedReflector(lambda seq: Action(), mangle=mangle) as refl:
        m = run(refl.target, count=10, interval="10ms", timeout="300ms")
    assert m.status is Status.TIMEOUT
    r = m.result
    assert r is not None and r.received == 0 and r.sent == 10
    assert r.details["discarded"] == 50


def test_closed_port_is_unreachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    m = run(f"127.0.0.1:{port}", count=100, interval="50ms", timeout="2s")
    assert m.status is Status.UNREACHABLE and "unreachable" in (m.error or "")
    assert time.monotonic() - start < 2.0  # ICMP port unreachable ends the run early


def test_silent_peer_times_out_with_every_probe_lost() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        m = run(f"127.0.0.1:{silent.getsockname()[1]}", count=5, interval="10ms", timeout="200ms")
    assert m.status is Status.TIMEOUT
    r = m.result
    assert r is not None and r.sent == 5 and r.received == 0
    assert all(p.lost_direction is LossDirection.UNKNOWN for p in r.probes)


def test_bad_target_is_an_error_record() -> None:
    m = run("127.0.0.1:99999", count=1)
    assert m.status is Status.ERROR and "port" in (m.error or "")


def test_padding_size_is_echoed(reflector: ReflectorServer) -> None:
    m = run(reflector.target, count=5, interval="10ms", size=200)
    assert m.result is not None and m.result.received == 5
    assert all(p.size_bytes == 200 for p in m.result.probes)


def test_reference_service_target() -> None:
    with ReferenceServices() as services:
        m = run(services.resolve("@reference/stamp"), count=20, interval="5ms")
    assert m.status is Status.OK and m.result is not None and m.result.received == 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.18.0.2:8620", ("198.18.0.2", 8620)),
        ("198.18.0.2", ("198.18.0.2", 862)),
        ("[::1]:9000", ("::1", 9000)),
        ("::1", ("::1", 862)),
        ("reflector.example:862", ("reflector.example", 862)),
    ],
)
def test_parse_target(text: str, expected: tuple[str, int]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", ":862", "[::1", "1.2.3.4:0", "1.2.3.4:x", "[::1]x"])
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_target(text)


# --------------------------------------------------------------------------- real commands
def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "agent")])}


def test_once_stamp_against_reflector_command(tmp_path: Path) -> None:
    """End to end: ``qos-agent once stamp ADDR:PORT --param count=500 --param
    interval=10ms --json`` works against ``qos-agent reflector`` on loopback."""
    reflector = subprocess.Popen(
        [sys.executable, "-m", "qos_agent.cli", "reflector", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert reflector.stdout is not None
        line = reflector.stdout.readline().strip()
        assert line.startswith("listening on "), line
        target = line.removeprefix("listening on ")
        once = subprocess.run(
            [
                sys.executable,
                "-m",
                "qos_agent.cli",
                "once",
                "stamp",
                target,
                "--param",
                "count=500",
                "--param",
                "interval=10ms",
                "--json",
                "--store",
                str(tmp_path / "store.sqlite"),
            ],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
        )
    finally:
        reflector.terminate()
        reflector.communicate(timeout=10)
    assert once.returncode == 0, once.stderr
    doc = json.loads(once.stdout)
    assert doc["collector"] == "stamp" and doc["status"] == "ok"
    fields = doc["result"]["probe_fields"]
    probes = [dict(zip(fields, row, strict=False)) for row in doc["result"]["probes"]]
    assert len(probes) == 500
    assert sum(1 for p in probes if p["rtt_s"] is not None) == 500
    assert {p["reflector_ttl"] for p in probes} == {255}
    assert doc["result"]["details"]["forward_lost"] == 0
    assert 4.9 <= doc["duration_s"] < 15  # 500 × 10 ms on a fixed schedule
    assert doc["summary"]  # the lead's summary block is present
    assert reflector.returncode == 0


def test_ipv6_loopback_and_twamp_light_size() -> None:
    try:
        # a 41-octet TWAMP-Light request is answered only by a reflector that accepts short ones
        short_ok = Reflector(ReflectorConfig(accept_short=True))
        server = ReflectorServer("::1", 0, reflector=short_ok).start()
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    with server:
        m = run(server.target, count=20, interval="5ms", size=41)
    r = m.result
    assert m.status is Status.OK and r is not None and r.received == 20
    assert {p.reflector_ttl for p in r.probes} == {255} and {p.ttl for p in r.probes} == {255}


def test_dscp_is_set_on_test_packets() -> None:
    ip_recvtos = getattr(socket, "IP_RECVTOS", 13)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.setsockopt(socket.IPPROTO_IP, ip_recvtos, 1)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(2)
        m = run(
            f"127.0.0.1:{peer.getsockname()[1]}", count=1, interval="10ms", timeout="50ms", dscp=46
        )
        _, ancdata, _, _ = peer.recvmsg(2048, socket.CMSG_SPACE(4))
    tos = [
        data[0]
        for level, kind, data in ancdata
        if (level, kind) == (socket.IPPROTO_IP, socket.IP_TOS)
    ]
    assert tos == [46 << 2]  # EF
    assert m.status is Status.TIMEOUT


@pytest.mark.parametrize("size", [41, 44])
def test_loopback_reference_reflector_answers_every_size_the_sender_accepts(size: int) -> None:
    """``@reference/stamp`` on loopback answers 41-octet TWAMP-Light requests as well, which a
    reflector started with the defaults ignores."""
    from qos_agent.stamp.reflector import start_reference_reflector

    service = start_reference_reflector()
    try:
        m = run(service.target, count=10, interval="5ms", size=size)
    finally:
        service.stop()
    assert m.status is Status.OK and m.result is not None and m.result.received == 10
    with ReflectorServer("127.0.0.1", 0).start() as default:
        m = run(default.target, count=3, interval="5ms", timeout="200ms", size=size)
    assert m.result is not None and m.result.received == (3 if size >= 44 else 0)
