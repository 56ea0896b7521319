"""TWAMP-Light interop: short requests and short replies, reflector modes (RFC 5357, RFC 8762).

Packets are written by hand with :mod:`struct` at the RFC 5357 offsets (§4.1.2 sender:
Sequence Number, Timestamp, Error Estimate, padding; §4.2.1 reflector: ..., Ses-Sender
Error Estimate at 36, MBZ, Ses-Sender TTL at 40) or built by Scapy's independent
``scapy.contrib.stamp``, in sizes of 14, 36, 38, 41 and 44 octets, in both directions:

* requests: by default only ≥ 44 octets (the STAMP base packet) are answered, at their own
  size (never more octets than received); with ``accept_short`` 14–40 octets get the
  44-octet base reflection and 41–43 octets a same-size one, so every reply is at most
  max(request, 44) octets;
* replies: the sender matches anything from 36 octets up; a field the reply does not
  carry (Ses-Sender Error Estimate below 38, Ses-Sender TTL below 41) is ``None``;
* a TWAMP-Light responder written here (not using our codec) that answers 38 octets, and
  ``qos-agent once stamp`` against it; ``qos-agent reflector`` with and without
  ``--accept-short`` facing a 14-octet request.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos.records import RttResult, Status
from qos.store.sqlite import SqliteStore
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.stamp.clock import ClockState
from qos_agent.stamp.codec import StampDecodeError, decode_reflector
from qos_agent.stamp.reflector import Reflector, ReflectorConfig, ReflectorServer
from qos_agent.stamp.sender import StampSender

REPO = Path(__file__).resolve().parents[2]
SRC = ("10.0.0.1", 40000)
SIZES = [14, 36, 38, 41, 44]

# RFC 5357 §4.1.2 unauthenticated sender head and §4.2.1 reflector fields, written out here
SENDER_HEAD = struct.Struct("!IQH")  # 14 octets
REFLECTOR_36 = struct.Struct("!IQHHQIQ")  # through the copied sender Timestamp
REFLECTOR_38 = struct.Struct("!IQHHQIQH")  # + Ses-Sender Error Estimate
REFLECTOR_41 = struct.Struct("!IQHHQIQHHB")  # + MBZ + Ses-Sender TTL
NTP_OFFSET = 2_208_988_800  # 1900 → 1970, RFC 5905 §6


def ntp(unix_s: float) -> int:
    whole = int(unix_s)
    return ((whole + NTP_OFFSET) << 32) | int((unix_s - whole) * 2**32)


def twamp_request(seq: int, size: int, ts: int = (3_913_056_000 << 32) | 0x4000_0000) -> bytes:
    """An RFC 5357 §4.1.2 sender packet: 14-octet head + zero padding up to ``size``."""
    return SENDER_HEAD.pack(seq, ts, 0x8001) + bytes(size - SENDER_HEAD.size)


def twamp_reply(request: bytes, size: int, t2: int, t3: int, ttl: int = 64) -> bytes:
    """An RFC 5357 §4.2.1 reflection of ``request`` cut to ``size`` (stateless: seq copied)."""
    seq, ts, err = SENDER_HEAD.unpack_from(request)
    full = REFLECTOR_41.pack(seq, t3, 0x0001, 0, t2, seq, ts, err, 0, ttl) + bytes(3)
    return full[:size] if size <= len(full) else full + bytes(size - len(full))


class FakeTime:
    def __init__(self) -> None:
        self.mono = 0.0
        self.wall = 1_704_067_200 * 10**9

    def monotonic(self) -> float:
        return self.mono

    def wall_ns(self) -> int:
        self.wall += 1000
        return self.wall


def make(**config: object) -> tuple[Reflector, FakeTime]:
    t = FakeTime()
    state = ClockState(synchronized=False, max_error_s=1e-3, source="test")
    reflector = Reflector(
        config=ReflectorConfig(**config),  # type: ignore[arg-type]
        monotonic_s=t.monotonic,
        wall_ns=t.wall_ns,
        clock_state=lambda: state,
    )
    return reflector, t


# --------------------------------------------------------------------------- requests
@pytest.mark.parametrize("size", SIZES)
def test_default_reflector_never_answers_with_more_octets_than_received(size: int) -> None:
    r, _ = make()
    reply = r.handle(twamp_request(7, size), SRC, 64)
    if size < 44:  # below the STAMP base packet: answered only under accept_short
        assert reply is None and r.stats.too_short == 1 and r.stats.reflected == 0
    else:
        assert reply is not None and len(reply) == size
        assert REFLECTOR_41.unpack_from(reply)[5] == 7


@pytest.mark.parametrize("size", SIZES)
def test_accept_short_answers_at_most_max_of_request_and_44(size: int) -> None:
    r, _ = make(accept_short=True)
    request = twamp_request(0xDEADBEEF, size)
    reply = r.handle(request, SRC, 61)
    assert reply is not None
    assert len(reply) == (44 if size < 41 else size) <= max(size, 44)
    r_seq, t3, r_err, mbz1, t2, s_seq, s_ts, s_err, mbz2, s_ttl = REFLECTOR_41.unpack_from(reply)
    assert (s_seq, s_ts, s_err) == SENDER_HEAD.unpack_from(request)
    assert (r_seq, mbz1, mbz2, s_ttl) == (0, 0, 0, 61)  # stateful: own counter from 0
    assert reply[41:44] == bytes(len(reply[41:44]))  # trailing MBZ
    assert t3 >= t2 and r_err & 0xFF != 0
    assert r.stats.short_answered == (1 if size < 44 else 0) and r.stats.too_short == 0


@pytest.mark.parametrize("size", [0, 1, 13])
def test_below_the_14_octet_head_nothing_is_ever_answered(
    size: int, caplog: pytest.LogCaptureFixture
) -> None:
    for accept_short in (False, True):
        r, _ = make(accept_short=accept_short)
        with caplog.at_level(logging.WARNING):
            assert r.handle(twamp_request(1, 14)[:size], SRC, 64) is None
        assert r.stats.too_short == 1
    assert "--accept-short" not in caplog.text  # the option would not answer these either


def test_short_request_from_random_padding_is_one_session() -> None:
    """Octets 14–15 of a request under 41 octets are padding, not an RFC 8972 SSID."""
    r, _ = make(accept_short=True)
    seqs = []
    for i in range(3):
        request = SENDER_HEAD.pack(i, 1 << 40, 0x8001) + os.urandom(20)
        seqs.append(REFLECTOR_41.unpack_from(r.handle(request, SRC, 64) or b"")[0])
    assert seqs == [0, 1, 2] and r.session_count == 1


def test_short_requests_have_their_own_rate_limit() -> None:
    r, t = make(accept_short=True, short_rate_limit_pps=2, short_burst=3)
    short = [r.handle(twamp_request(i, 14), SRC, 64) is not None for i in range(5)]
    assert short == [True] * 3 + [False] * 2 and r.stats.rate_limited == 2
    assert r.handle(twamp_request(5, 44), SRC, 64) is not None  # full-size ones still pass
    assert r.handle(twamp_request(0, 14), ("10.0.0.2", 1), 64) is not None  # other source
    t.mono += 0.5  # one token at 2/s
    assert r.handle(twamp_request(6, 14), SRC, 64) is not None
    assert r.handle(twamp_request(7, 14), SRC, 64) is None


def test_ignored_short_requests_are_logged_once_per_source_and_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r, t = make()
    other = ("10.0.0.2", 5000)
    with caplog.at_level(logging.WARNING, logger="qos_agent.stamp.reflector"):
        r.handle(twamp_request(0, 14), SRC, 64)
        r.handle(twamp_request(1, 38), SRC, 64)
        t.mono += 30
        r.handle(twamp_request(2, 36), SRC, 64)
        r.handle(twamp_request(0, 14), other, 64)
        t.mono += 30.5  # 60.5 s after the first notice for SRC
        r.handle(twamp_request(3, 40), SRC, 64)
    lines = [rec.getMessage() for rec in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("ignored 1 request(s) of 14 octets from 10.0.0.1:")
    assert lines[1].startswith("ignored 1 request(s) of 14 octets from 10.0.0.2:")
    assert lines[2].startswith("ignored 3 request(s) of 36–40 octets from 10.0.0.1:")
    assert all("--accept-short" in line and "rate-limited per source" in line for line in lines)
    assert r.stats.too_short == 5 and r.stats.reflected == 0


# --------------------------------------------------------------------------- modes
def test_stateless_copies_the_sender_sequence_number_stateful_counts() -> None:
    sender_seqs = [5, 9, 7, 2**32 - 1]
    stateless, _ = make(mode="stateless")
    stateful, _ = make()
    got = {
        name: [
            decode_reflector(r.handle(twamp_request(s, 44), SRC, 64) or b"").seq
            for s in sender_seqs
        ]
        for name, r in (("stateless", stateless), ("stateful", stateful))
    }
    assert got == {"stateless": sender_seqs, "stateful": [0, 1, 2, 3]}
    assert stateless.session_count == 0 and stateful.session_count == 1
    assert (stateless.stats.mode, stateful.stats.mode) == ("stateless", "stateful")
    with pytest.raises(ValueError, match="mode must be one of"):
        ReflectorConfig(mode="half")


# --------------------------------------------------------------------------- replies
@pytest.mark.parametrize("size", SIZES)
def test_hand_written_replies_decode_with_missing_fields_as_none(size: int) -> None:
    request = twamp_request(11, 44)
    reply = twamp_reply(request, size, t2=ntp(1e9), t3=ntp(1e9 + 1e-4), ttl=62)
    if size < 36:
        with pytest.raises(StampDecodeError, match="at least 36"):
            decode_reflector(reply)
        return
    packet = decode_reflector(reply)
    assert (packet.sender_seq, packet.seq, packet.size) == (11, 11, size)
    assert packet.sender_timestamp == SENDER_HEAD.unpack_from(request)[1]
    assert packet.sender_error_estimate == (0x8001 if size >= 38 else None)
    assert packet.sender_ttl == (62 if size >= 41 else None)


@pytest.mark.parametrize("size", SIZES)
def test_sender_matches_replies_from_36_octets(size: int) -> None:
    with StampSender(
        ("127.0.0.1", 9), socket.AF_INET, ssid=5, clock_state=ClockState(False, 1.0, "test")
    ) as sender:
        probe = sender.send(3)
        request = SENDER_HEAD.pack(3, probe.t1_ntp, 0x8001) + bytes(30)
        sender._accept(twamp_reply(request, size, ntp(1e9), ntp(1e9)), probe.t1_mono_ns + 1, 64)
        if size < 36:
            assert sender.replies == {} and sender.discarded == 1
        else:
            assert sender.discarded == 0 and len(sender.replies[3]) == 1
            assert sender.replies[3][0].packet.sender_ttl == (64 if size >= 41 else None)


# --------------------------------------------------------------------------- Scapy-built
stamp = pytest.importorskip("scapy.contrib.stamp", reason="Scapy (dev extra) not installed")


@pytest.mark.parametrize("size", SIZES)
def test_scapy_sender_packet_cut_to_size_against_our_reflector(size: int) -> None:
    """Scapy's 44-octet sender packet cut to the TWAMP-Light sizes; replies read by Scapy."""
    probe = bytes(stamp.STAMPSessionSenderTestUnauthenticated(seq=123, ts=3_913_056_000.25))
    request = probe[:size]
    for accept_short in (False, True):
        r, _ = make(accept_short=accept_short)
        reply = r.handle(request, SRC, 64)
        if size < 44 and not accept_short:
            assert reply is None
            continue
        assert reply is not None and len(reply) <= max(size, 44)
        if len(reply) < 44:  # Scapy's dissector needs the full STAMP base packet
            assert REFLECTOR_41.unpack_from(reply)[5] == 123
            continue
        parsed = stamp.STAMPSessionReflectorTestUnauthenticated(reply)
        assert (parsed.seq_sender, parsed.ttl_sender, parsed.seq) == (123, 64, 0)
        assert bytes(reply[28:36]) == probe[4:12]  # T1 copied bit for bit


@pytest.mark.parametrize("size", SIZES)
def test_scapy_reflector_packet_cut_to_size_is_decoded(size: int) -> None:
    full = bytes(
        stamp.STAMPSessionReflectorTestUnauthenticated(
            seq=9,
            seq_sender=8,
            ts_sender=3_913_056_000.5,
            ttl_sender=200,
            err_estimate_sender=stamp.ErrorEstimate(S=1, Z=0, scale=0, multiplier=1),
        )
    )
    if size < 36:
        with pytest.raises(StampDecodeError):
            decode_reflector(full[:size])
        return
    packet = decode_reflector(full[:size])
    assert (packet.seq, packet.sender_seq) == (9, 8)
    assert packet.sender_timestamp == (3_913_056_000 << 32) | 0x8000_0000
    assert packet.sender_error_estimate == (0x8001 if size >= 38 else None)
    assert packet.sender_ttl == (200 if size >= 41 else None)


# --------------------------------------------------------------------------- real sockets
class TwampLightResponder:
    """A stateless TWAMP-Light responder (RFC 5357 App. I) that answers ``reply_size`` octets.

    Written with :mod:`struct` alone, like responders in the field that leave out the
    trailing MBZ and Ses-Sender TTL (38 octets) or the Ses-Sender Error Estimate too (36).
    """

    def __init__(self, reply_size: int) -> None:
        self.reply_size = reply_size
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.requests: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            data, source = self.sock.recvfrom(4096)
            t2 = ntp(time.time())
            self.requests.append(len(data))
            if len(data) < SENDER_HEAD.size:
                continue
            seq, ts, err = SENDER_HEAD.unpack_from(data)
            head = (seq, ntp(time.time()), 0x0001, 0, t2, seq, ts)  # stateless: seq copied
            if self.reply_size >= 38:
                reply = REFLECTOR_38.pack(*head, err)
            else:
                reply = REFLECTOR_36.pack(*head)
            self.sock.sendto(reply, source)

    def __enter__(self) -> TwampLightResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "agent")])}


@pytest.mark.parametrize("reply_size", [36, 38])
def test_collector_against_a_short_reply_responder(reply_size: int) -> None:
    with TwampLightResponder(reply_size) as responder:
        m = run_collector(
            get("stamp"),
            responder.target,
            {"count": "40", "interval": "5ms"},
            MeasureContext(agent_id="test"),
        )
    assert len(responder.requests) == 40
    assert m.status is Status.OK, m.error
    r = m.result
    assert r is not None and r.received == 40 and r.details["discarded"] == 0
    assert r.details["reply_octets"] == [reply_size]
    assert all(p.rtt_s is not None and p.rtt_s > 0 for p in r.probes)
    assert {p.reflector_ttl for p in r.probes} == {None}  # not on the wire: unknown, not 0


def test_once_stamp_cli_against_a_38_octet_responder(tmp_path: Path) -> None:
    with TwampLightResponder(38) as responder:
        once = subprocess.run(
            [
                *(sys.executable, "-m", "qos_agent.cli", "once", "stamp", responder.target),
                *("--param", "count=100", "--param", "interval=5ms", "--json"),
                *("--store", str(tmp_path / "store.sqlite")),
            ],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
        )
    assert once.returncode == 0, once.stderr
    doc = json.loads(once.stdout)
    assert doc["status"] == "ok", doc["error"]
    assert doc["summary"]["sent"] == doc["summary"]["received"] == 100
    assert doc["summary"]["loss_ratio"] == 0.0
    assert responder.requests == [44] * 100
    fields = doc["result"]["probe_fields"]
    probes = [dict(zip(fields, row, strict=True)) for row in doc["result"]["probes"]]
    rtts = [p["rtt_s"] for p in probes]
    assert all(rtt is not None and 0 < rtt < 1 for rtt in rtts)
    assert {p["reflector_ttl"] for p in probes} == {None}
    assert doc["result"]["details"]["reply_octets"] == [38]
    assert doc["result"]["details"]["discarded"] == 0
    with SqliteStore(tmp_path / "store.sqlite") as store:  # the stored record: None, not 0
        (stored,) = list(store.iter_measurements())
    assert isinstance(stored.result, RttResult) and len(stored.result.probes) == 100
    assert {p.reflector_ttl for p in stored.result.probes} == {None}


def _reflector(*extra: str) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qos_agent.cli", "reflector", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on 127.0.0.1:"), line
    return proc, ("127.0.0.1", int(line.rsplit(":", 1)[1]))


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def cleanup() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_reflector_command_ignores_a_14_octet_request_and_logs_the_hint(
    cleanup: list[subprocess.Popen[str]],
) -> None:
    proc, address = _reflector()
    cleanup.append(proc)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(twamp_request(1, 14), address)
        s.sendto(twamp_request(2, 14), address)
        with pytest.raises(TimeoutError):
            s.recv(2048)
        s.settimeout(3)
        s.sendto(twamp_request(3, 44), address)  # answered: the short ones were processed
        assert REFLECTOR_41.unpack_from(s.recv(2048))[5] == 3
    out, err = _stop(proc)
    assert "mode=stateful received=3 reflected=1 too_short=2 short_answered=0" in out
    assert "mode stateful: requests under 44 octets are ignored" in err
    hints = [line for line in err.splitlines() if "ignored" in line and "from 127.0.0.1" in line]
    assert len(hints) == 1, err  # once per source and minute
    assert "WARNING" in hints[0] and "ignored 1 request(s) of 14 octets" in hints[0]
    assert "--accept-short" in hints[0]


def test_reflector_command_accept_short_stateless_answers_14_octets(
    cleanup: list[subprocess.Popen[str]],
) -> None:
    proc, address = _reflector("--accept-short", "--mode", "stateless")
    cleanup.append(proc)
    request = twamp_request(0xDEADBEEF, 14)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(request, address)
        reply = s.recv(2048)
    out, err = _stop(proc)
    assert len(reply) == 44  # the base packet: ≤ max(request, 44)
    r_seq, t3, _err, _mbz, t2, s_seq, s_ts, s_err, _mbz2, ttl = REFLECTOR_41.unpack_from(reply)
    assert r_seq == s_seq == 0xDEADBEEF  # stateless: the sender's number copied
    assert (s_ts, s_err) == SENDER_HEAD.unpack_from(request)[1:]
    assert ttl == 64 and t3 >= t2
    assert "mode=stateless received=1 reflected=1 too_short=0 short_answered=1" in out
    assert "mode stateless: requests of 14-43 octets get replies of max(request, 44) octets" in err
    assert "WARNING" not in err  # nothing ignored, no hint


def test_server_in_stateless_mode_with_our_sender() -> None:
    reflector = Reflector(config=ReflectorConfig(mode="stateless"))
    with ReflectorServer(port=0, reflector=reflector).start() as server:
        m = run_collector(
            get("stamp"),
            server.target,
            {"count": "20", "interval": "5ms", "reflector": "stateless"},
            MeasureContext(agent_id="test"),
        )
    r = m.result
    assert m.status is Status.OK and r is not None and r.received == 20
    assert r.details["reflector_mode"] == "stateless" and r.details["reply_octets"] == [44]
    assert reflector.stats.mode == "stateless" and reflector.session_count == 0
