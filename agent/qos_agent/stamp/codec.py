"""Pure encoding and decoding of STAMP test packets (RFC 8762 §4.2–4.4).

Unauthenticated mode only (RFC 8762 §4.2.1, §4.3.1), with the RFC 8972 §3 SSID in the
first two MBZ octets.  TWAMP-Light interop (RFC 5357 §4.1.2, §4.2.1, App. I):

* a TWAMP-Light Session-Sender packet is the 14-octet OWAMP-Test head (Sequence Number,
  Timestamp, Error Estimate) plus padding, which RFC 5357 §4.1.2 asks to be ≥ 27 octets so
  that sender and reflector packets have the same size.  :func:`decode_sender` accepts
  **≥ 41 octets** by default (octets 14–15 are then read as SSID); a reflector that chose to
  answer unpadded senders asks for ``min_size=14`` (below 41 octets there is no SSID);
* a reflector packet is the 44-octet STAMP layout, of which the first **41 octets** are the
  TWAMP-Light reflector packet.  Responders in the field cut it shorter when the request
  carried no padding: they omit the trailing MBZ and Ses-Sender TTL (38 octets) or even the
  Ses-Sender Error Estimate (36 octets).  :func:`decode_reflector` accepts **≥ 36 octets**
  — the shortest reply that still carries the copied Session-Sender Sequence Number and
  Timestamp a sender matches on — and reports the fields that were not on the wire as
  ``None`` (never as 0: a TTL of 0 would be a measurement).

Timestamps are kept as the raw unsigned 64-bit NTP value (32-bit seconds since 1900 +
32-bit fraction) so nothing is lost to float rounding; conversions use exact integer
arithmetic with fraction = floor(frac · 2³²) (RFC 5905 §6; not frac · 0xFFFFFFFF).

Decoders never raise anything but :class:`StampDecodeError` on bad input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

#: seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch), RFC 5905 §6
NTP_UNIX_OFFSET_S = 2_208_988_800
_FRAC = 1 << 32
_U64 = 1 << 64

#: RFC 8762 §4.2.1/§4.3.1 base packet size, unauthenticated
BASE_SIZE = 44
#: RFC 5357 §4.2.1 minimum TWAMP-Light reflector packet; also 14 + 27 for a padded sender
TWAMP_LIGHT_MIN_SIZE = 41
#: RFC 5357 §4.1.2 / RFC 4656 §4.1.2 unauthenticated sender head without padding
SENDER_HEAD_SIZE = 14
#: shortest reflection a sender can match: octets 0–35 end with the copied Session-Sender
#: Timestamp (RFC 5357 §4.2.1); the Ses-Sender Error Estimate ends at 38, the TTL at 41
REFLECTOR_MIN_SIZE = 36
#: largest UDP payload we build or accept (IPv4 maximum datagram minus headers)
MAX_SIZE = 65_507

_SENDER_HEAD = struct.Struct("!IQHH")  # seq, timestamp, error estimate, SSID (16 octets)
_REFLECTOR_HEAD = struct.Struct("!IQHHQIQHHB")  # 41 octets, RFC 5357 §4.2.1 / RFC 8762 §4.3.1
_REFLECTOR_MIN_HEAD = struct.Struct("!IQHHQIQ")  # the first 36 octets (through sender T1)
_SENDER_ERROR_ESTIMATE = struct.Struct("!H")  # octets 36–37
_SENDER_TTL_OFFSET = 40


class StampDecodeError(ValueError):
    """A datagram that is not a well-formed STAMP/TWAMP-Light test packet."""


# --------------------------------------------------------------------------- timestamps
def ntp_from_unix_ns(unix_ns: int) -> int:
    """Unix time in integer nanoseconds → 64-bit NTP timestamp (fraction floored, exact)."""
    seconds, nanos = divmod(unix_ns, 1_000_000_000)
    fraction = (nanos * _FRAC) // 1_000_000_000
    return (((seconds + NTP_UNIX_OFFSET_S) % _FRAC) << 32) | fraction


def ntp_from_unix(unix_s: float | int | Fraction) -> int:
    """Unix seconds (float read exactly) → NTP timestamp with floor(frac · 2³²)."""
    exact = Fraction(unix_s) + NTP_UNIX_OFFSET_S
    whole = exact.numerator // exact.denominator
    fraction = ((exact - whole) * _FRAC).__floor__()
    return ((whole % _FRAC) << 32) | fraction


def ntp_to_unix(ntp: int) -> float:
    """NTP timestamp → Unix seconds (era 0, i.e. dates 1900–2036; RFC 5905 §6)."""
    return (ntp >> 32) - NTP_UNIX_OFFSET_S + (ntp & (_FRAC - 1)) / _FRAC


def ntp_diff_s(later: int, earlier: int) -> float:
    """``later − earlier`` in seconds, modulo 2⁶⁴ and signed (survives the 2036 era wrap)."""
    delta = (later - earlier) % _U64
    if delta >= _U64 // 2:
        delta -= _U64
    return delta / _FRAC


# --------------------------------------------------------------------------- error estimate
@dataclass(frozen=True, slots=True)
class ErrorEstimate:
    """RFC 4656 §4.1.2 Error Estimate: ``S(1) Z(1) Scale(6) Multiplier(8)``.

    ``synchronized`` (S) says the clock is synchronised to UTC by an external source;
    ``ptp`` (Z, RFC 8186) says the timestamps are PTPv2 rather than NTP format.  The error
    is Multiplier · 2⁻³² · 2^Scale seconds; a Multiplier of 0 is invalid (RFC 4656 says the
    packet SHOULD be treated as corrupt) — :attr:`valid` reports it instead of raising so
    that a reflector can still reflect and a sender can flag the sample.
    """

    synchronized: bool
    scale: int
    multiplier: int
    ptp: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.scale <= 63:
            raise ValueError(f"error estimate scale must be 0..63, got {self.scale}")
        if not 0 <= self.multiplier <= 255:
            raise ValueError(f"error estimate multiplier must be 0..255, got {self.multiplier}")

    @property
    def valid(self) -> bool:
        return self.multiplier != 0

    @property
    def seconds(self) -> float:
        return self.multiplier * 2.0 ** (self.scale - 32)

    def encode(self) -> int:
        return (
            (int(self.synchronized) << 15)
            | (int(self.ptp) << 14)
            | (self.scale << 8)
            | self.multiplier
        )

    @classmethod
    def decode(cls, value: int) -> ErrorEstimate:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"error estimate must fit 16 bits, got {value}")
        return cls(
            synchronized=bool(value >> 15),
            ptp=bool((value >> 14) & 1),
            scale=(value >> 8) & 0x3F,
            multiplier=value & 0xFF,
        )

    @classmethod
    def from_seconds(cls, error_s: float, *, synchronized: bool) -> ErrorEstimate:
        """Smallest encodable error ≥ ``error_s`` (an estimate must not understate)."""
        if not error_s > 0:
            return cls(synchronized=synchronized, scale=0, multiplier=1)
        units = Fraction(error_s) * _FRAC  # in 2⁻³² s
        for scale in range(64):
            multiplier = -((-units) // (1 << scale))  # ceil
            if multiplier <= 255:
                return cls(synchronized=synchronized, scale=scale, multiplier=max(1, multiplier))
        return cls(synchronized=synchronized, scale=63, multiplier=255)


# --------------------------------------------------------------------------- packets
@dataclass(frozen=True, slots=True)
class SenderPacket:
    """Session-Sender test packet, unauthenticated (RFC 8762 §4.2.1, RFC 8972 §3).

    ``size`` is the UDP payload length on the wire (≥ 44 when we build it; a received
    TWAMP-Light packet may be 41–43).  Octets after the SSID are MBZ/padding and are not
    interpreted (RFC 8762 §4.2.1 MBZ is "ignored on receipt" in spirit of §4.6 interop).
    """

    seq: int
    timestamp: int
    error_estimate: int
    ssid: int = 0
    size: int = BASE_SIZE

    def encode(self, padding: bytes = b"") -> bytes:
        """Wire bytes: the 16-octet head, zeros to 44, then ``padding`` up to ``size``."""
        if not TWAMP_LIGHT_MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"sender packet size must be {TWAMP_LIGHT_MIN_SIZE}..{MAX_SIZE}")
        head = _SENDER_HEAD.pack(self.seq, self.timestamp, self.error_estimate, self.ssid)
        out = head + bytes(BASE_SIZE - len(head)) + padding
        return (out + bytes(max(0, self.size - len(out))))[: self.size]


def decode_sender(data: bytes, *, min_size: int = TWAMP_LIGHT_MIN_SIZE) -> SenderPacket:
    """Parse a Session-Sender packet of at least ``min_size`` octets (default 41).

    ``min_size`` may go down to the 14-octet unpadded TWAMP-Light head (RFC 5357 §4.1.2).
    A packet shorter than 41 octets cannot be a STAMP packet (RFC 8762 §4.2.1: 44 octets),
    so it has no SSID: ``ssid`` is 0 whatever its padding holds.
    """
    if not SENDER_HEAD_SIZE <= min_size <= MAX_SIZE:
        raise ValueError(f"min_size must be {SENDER_HEAD_SIZE}..{MAX_SIZE}, got {min_size}")
    if len(data) < min_size:
        raise StampDecodeError(
            f"sender packet has {len(data)} octets, at least {min_size} required"
        )
    if len(data) > MAX_SIZE:
        raise StampDecodeError(f"sender packet has {len(data)} octets, above {MAX_SIZE}")
    if len(data) < TWAMP_LIGHT_MIN_SIZE:
        seq, timestamp, error_estimate = struct.unpack_from("!IQH", data)
        return SenderPacket(seq, timestamp, error_estimate, 0, size=len(data))
    seq, timestamp, error_estimate, ssid = _SENDER_HEAD.unpack_from(data)
    return SenderPacket(seq, timestamp, error_estimate, ssid, size=len(data))


@dataclass(frozen=True, slots=True)
class ReflectorPacket:
    """Session-Reflector test packet, unauthenticated (RFC 8762 §4.3.1, RFC 5357 §4.2.1).

    ``timestamp`` is T3 (start of reflector transmission), ``receive_timestamp`` is T2,
    ``sender_timestamp`` is the copied T1; ``error_estimate`` applies to T2 and T3.
    ``sender_ttl`` is the TTL/Hop Limit the reflector saw on the sender's packet.
    ``sender_error_estimate`` and ``sender_ttl`` are ``None`` when a short TWAMP-Light
    reply (36–40 octets) did not carry them.
    """

    seq: int
    timestamp: int
    error_estimate: int
    ssid: int
    receive_timestamp: int
    sender_seq: int
    sender_timestamp: int
    sender_error_estimate: int | None
    sender_ttl: int | None
    size: int = BASE_SIZE

    def encode(self, tail: bytes = b"") -> bytes:
        """Wire bytes of length ``size``: 41-octet head, MBZ to 44, then ``tail``.

        ``size`` 41–43 gives a TWAMP-Light-sized reflection (the trailing MBZ octets are
        cut), 36–40 the short form some TWAMP-Light responders send; above 44 the reply
        carries ``tail`` (the sender's own octets beyond 44, RFC 8762 §4.3) padded with
        zeros — so the reply is never larger than ``size``.  An unknown ``sender_ttl`` is
        written as 255 (RFC 5357 §4.2.1), an unknown sender error estimate as 0.
        """
        if not REFLECTOR_MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"reflector packet size must be {REFLECTOR_MIN_SIZE}..{MAX_SIZE}")
        head = _REFLECTOR_HEAD.pack(
            self.seq,
            self.timestamp,
            self.error_estimate,
            self.ssid,
            self.receive_timestamp,
            self.sender_seq,
            self.sender_timestamp,
            self.sender_error_estimate or 0,
            0,
            255 if self.sender_ttl is None else self.sender_ttl,
        )
        body = head + bytes(BASE_SIZE - len(head)) + tail
        if len(body) < self.size:
            body += bytes(self.size - len(body))
        return body[: self.size]


def decode_reflector(data: bytes) -> ReflectorPacket:
    """Parse a Session-Reflector packet of ≥ 36 octets (see the module docstring).

    Octets 36–37 (Ses-Sender Error Estimate) and 40 (Ses-Sender TTL) are read only when
    the reply reaches them; otherwise the field is ``None``.
    """
    if len(data) < REFLECTOR_MIN_SIZE:
        raise StampDecodeError(
            f"reflector packet has {len(data)} octets, at least {REFLECTOR_MIN_SIZE} required"
        )
    if len(data) > MAX_SIZE:
        raise StampDecodeError(f"reflector packet has {len(data)} octets, above {MAX_SIZE}")
    (seq, ts, err, ssid, rx_ts, s_seq, s_ts) = _REFLECTOR_MIN_HEAD.unpack_from(data)
    s_err: int | None = None
    if len(data) >= REFLECTOR_MIN_SIZE + _SENDER_ERROR_ESTIMATE.size:
        (s_err,) = _SENDER_ERROR_ESTIMATE.unpack_from(data, REFLECTOR_MIN_SIZE)
    s_ttl = data[_SENDER_TTL_OFFSET] if len(data) > _SENDER_TTL_OFFSET else None
    return ReflectorPacket(seq, ts, err, ssid, rx_ts, s_seq, s_ts, s_err, s_ttl, size=len(data))
