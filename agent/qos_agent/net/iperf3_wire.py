"""iperf3 control-protocol codec: states, cookie, JSON framing, parameters, results, UDP header.

Pure functions and constants, no sockets (docs/methods.md §12.6).  What the stock server
(esnet iperf3 3.12, ``src/iperf_api.c`` ``send_parameters``/``get_parameters``/
``send_results``/``get_results``/``JSON_write``/``JSON_read``, ``src/iperf_udp.c``) expects:

* the client opens a TCP control connection and sends a 37-byte **cookie** (36 characters
  from ``[a-z2-7]`` and a NUL); every TCP data stream sends the same cookie first;
* the server drives the test with **one-byte signed states** (:class:`State`);
* parameters and results are **4-byte big-endian length + JSON** (cJSON, unformatted);
* durations (``time``, ``omit``) are **whole seconds** (the server reads ``valueint``);
* stream ids are assigned in creation order as 1, 3, 4, 5 … (``iperf_add_stream`` skips 2),
  and the server rejects results naming an id it does not know (``IESTREAMID``);
* a UDP stream announces itself with a datagram whose bytes are ``39 38 37 36`` (the host-
  order int ``0x36373839`` written by an x86 client) and the server answers ``36 37 38 39``
  (``0x39383736``), or the legacy ``987654321`` from older servers;
* every UDP datagram starts with sender seconds, microseconds (32-bit big-endian) and a
  packet counter starting at 1 — 32-bit, or 64-bit when ``udp_counters_64bit`` was agreed.
  The receiver derives loss from gaps in the counter and the RFC 3550 §A.8 jitter from the
  timestamps (only differences matter, so any steady clock works).
"""

from __future__ import annotations

import enum
import json
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_PORT = 5201
COOKIE_SIZE = 37
_COOKIE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
#: bound on a JSON message we accept (a results message with 128 streams is a few kB)
MAX_JSON_BYTES = 1 << 20
DEFAULT_TCP_LENGTH = 128 * 1024
DEFAULT_UDP_LENGTH = 1460  # 1460 + 8 (UDP) + 20 (IPv4) = 1488 B fits a 1500-byte MTU
MAX_STREAMS = 128  # iperf.h MAX_STREAMS
MIN_UDP_LENGTH = 16  # iperf.h MIN_UDP_BLOCKSIZE: header with a 64-bit counter
MAX_UDP_LENGTH = 65535 - 8 - 20
MAX_TCP_LENGTH = 1 << 20  # iperf.h MAX_BLOCKSIZE

UDP_CONNECT_MSG = b"9876"
UDP_CONNECT_REPLIES = frozenset({b"6789", b"\xb1\x68\xde\x3a", b"\x3a\xde\x68\xb1"})


class State(enum.IntEnum):
    """Control states (iperf.h); sent as one signed byte."""

    TEST_START = 1
    TEST_RUNNING = 2
    TEST_END = 4
    PARAM_EXCHANGE = 9
    CREATE_STREAMS = 10
    SERVER_TERMINATE = 11
    CLIENT_TERMINATE = 12
    EXCHANGE_RESULTS = 13
    DISPLAY_RESULTS = 14
    IPERF_START = 15
    IPERF_DONE = 16
    ACCESS_DENIED = -1
    SERVER_ERROR = -2


class ProtocolError(Exception):
    """The peer sent something the protocol does not allow (garbage, wrong order, bad JSON)."""


def make_cookie() -> bytes:
    """A fresh 37-byte cookie: 36 random characters of ``[a-z2-7]`` and a NUL."""
    return "".join(secrets.choice(_COOKIE_ALPHABET) for _ in range(36)).encode() + b"\0"


def encode_state(state: State) -> bytes:
    return struct.pack("b", int(state))


def decode_state(raw: bytes) -> State:
    """One byte → :class:`State`; an unknown value is a :class:`ProtocolError`."""
    if len(raw) != 1:
        raise ProtocolError(f"expected one state byte, got {len(raw)}")
    value = struct.unpack("b", raw)[0]
    try:
        return State(value)
    except ValueError:
        raise ProtocolError(f"unknown control state {value}") from None


def encode_json(message: Mapping[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return struct.pack(">I", len(body)) + body


def decode_length(raw: bytes) -> int:
    """The 4-byte big-endian length prefix; refuses absurd sizes (garbage on the wire)."""
    (size,) = struct.unpack(">I", raw)
    if size > MAX_JSON_BYTES:
        raise ProtocolError(f"JSON message of {size} bytes announced (limit {MAX_JSON_BYTES})")
    return size


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"malformed JSON from the server: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError("JSON message from the server is not an object")
    return value


def stream_ids(count: int) -> list[int]:
    """Ids the server gives streams created in order: 1, 3, 4, … (``iperf_add_stream``)."""
    return [1 if i == 0 else i + 2 for i in range(count)]


@dataclass(frozen=True, slots=True)
class TestSpec:
    """What to ask the server for (the ``send_parameters`` message)."""

    protocol: str = "tcp"  # "tcp" | "udp"
    reverse: bool = False  # server sends, we receive
    streams: int = 1
    duration_s: int = 10
    omit_s: int = 0
    length: int = DEFAULT_TCP_LENGTH
    rate_bps: int = 0  # per stream; 0 = unlimited
    udp_counters_64bit: bool = False
    congestion: str = ""  # TCP congestion control for both ends ("" = each host's default)

    def __post_init__(self) -> None:
        if self.protocol not in ("tcp", "udp"):
            raise ValueError(f"protocol must be tcp or udp, got {self.protocol!r}")
        if not 1 <= self.streams <= MAX_STREAMS:
            raise ValueError(f"streams must be 1..{MAX_STREAMS}, got {self.streams}")
        if self.duration_s < 1 or self.omit_s < 0:
            raise ValueError("duration must be ≥ 1 s and omit ≥ 0 s (whole seconds)")
        low, high = (
            (MIN_UDP_LENGTH, MAX_UDP_LENGTH) if self.protocol == "udp" else (1, MAX_TCP_LENGTH)
        )
        if not low <= self.length <= high:
            raise ValueError(f"{self.protocol} length must be {low}..{high} bytes")
        if self.rate_bps < 0:
            raise ValueError("rate must be ≥ 0")


def parameters(spec: TestSpec, client_version: str) -> dict[str, Any]:
    """The parameter object, with the names ``get_parameters`` reads."""
    params: dict[str, Any] = {
        spec.protocol: True,
        "omit": spec.omit_s,
        "time": spec.duration_s,
        "parallel": spec.streams,
        "len": spec.length,
    }
    if spec.reverse:
        params["reverse"] = True
    if spec.rate_bps:
        params["bandwidth"] = spec.rate_bps
    if spec.udp_counters_64bit:
        params["udp_counters_64bit"] = 1
    if spec.congestion:
        params["congestion"] = spec.congestion
    params["client_version"] = client_version
    return params


@dataclass(frozen=True, slots=True)
class StreamReport:
    """One stream's entry of a results message (``send_results``)."""

    id: int
    bytes: int
    retransmits: int | None
    jitter_s: float
    errors: int
    packets: int
    start_time_s: float | None = None
    end_time_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "bytes": self.bytes,
            "retransmits": -1 if self.retransmits is None else self.retransmits,
            "jitter": self.jitter_s,
            "errors": self.errors,
            "packets": self.packets,
        }
        if self.start_time_s is not None and self.end_time_s is not None:
            out["start_time"] = self.start_time_s
            out["end_time"] = self.end_time_s
        return out


@dataclass(frozen=True, slots=True)
class Results:
    """A results message: CPU use and per-stream reports."""

    cpu_util_total: float
    cpu_util_user: float
    cpu_util_system: float
    sender_has_retransmits: int
    streams: tuple[StreamReport, ...]
    congestion_used: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cpu_util_total": self.cpu_util_total,
            "cpu_util_user": self.cpu_util_user,
            "cpu_util_system": self.cpu_util_system,
            "sender_has_retransmits": self.sender_has_retransmits,
            "streams": [s.as_json() for s in self.streams],
        }
        if self.congestion_used:
            out["congestion_used"] = self.congestion_used
        return out


_U64_MINUS_ONE = 2**64 - 1


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"results field {what!r} is not a number: {value!r}")
    return int(value)


def _retransmits(value: Any) -> int | None:
    """-1 means "not known"; cJSON prints it as 2**64−1 (unsigned) or its float rounding."""
    number = float(value) if isinstance(value, int | float) else -1.0
    return None if number < 0 or number >= _U64_MINUS_ONE * 0.999 else int(number)


def parse_results(message: Mapping[str, Any]) -> Results:
    """Validate a results message the way ``get_results`` does (same required fields)."""
    required = ("cpu_util_total", "cpu_util_user", "cpu_util_system", "sender_has_retransmits")
    missing = [k for k in (*required, "streams") if k not in message]
    if missing:
        raise ProtocolError(f"results message lacks {', '.join(missing)}")
    raw_streams = message["streams"]
    if not isinstance(raw_streams, list):
        raise ProtocolError("results 'streams' is not a list")
    reports = []
    for entry in raw_streams:
        if not isinstance(entry, dict):
            raise ProtocolError("a results stream entry is not an object")
        lacking = [
            k
            for k in ("id", "bytes", "retransmits", "jitter", "errors", "packets")
            if k not in entry
        ]
        if lacking:
            raise ProtocolError(f"results stream lacks {', '.join(lacking)}")
        start, end = entry.get("start_time"), entry.get("end_time")
        reports.append(
            StreamReport(
                id=_int(entry["id"], "id"),
                bytes=_int(entry["bytes"], "bytes"),
                retransmits=_retransmits(entry["retransmits"]),
                jitter_s=float(entry["jitter"]),
                errors=_int(entry["errors"], "errors"),
                packets=_int(entry["packets"], "packets"),
                start_time_s=float(start) if isinstance(start, int | float) else None,
                end_time_s=float(end) if isinstance(end, int | float) else None,
            )
        )
    has_retransmits = _retransmits(message["sender_has_retransmits"])
    congestion = message.get("congestion_used")
    return Results(
        cpu_util_total=float(message["cpu_util_total"]),
        cpu_util_user=float(message["cpu_util_user"]),
        cpu_util_system=float(message["cpu_util_system"]),
        sender_has_retransmits=-1 if has_retransmits is None else has_retransmits,
        streams=tuple(reports),
        congestion_used=congestion if isinstance(congestion, str) else None,
    )


def udp_header_size(counters_64bit: bool) -> int:
    return 16 if counters_64bit else 12


def pack_udp_header(
    buffer: bytearray, sec: int, usec: int, count: int, counters_64bit: bool
) -> None:
    """Write the iperf3 UDP header into the front of ``buffer`` (``iperf_udp_send``)."""
    if counters_64bit:
        struct.pack_into(">IIQ", buffer, 0, sec & 0xFFFFFFFF, usec, count)
    else:
        struct.pack_into(">IIi", buffer, 0, sec & 0xFFFFFFFF, usec, count & 0x7FFFFFFF)


def unpack_udp_header(
    data: bytes | bytearray | memoryview, counters_64bit: bool
) -> tuple[int, int, int]:
    """(sec, usec, packet count) from a datagram (``iperf_udp_recv``)."""
    sec, usec, count = struct.unpack_from(">IIQ" if counters_64bit else ">IIi", data, 0)
    return sec, usec, count
