"""Pure encoding and decoding of STAMP test packets (docs/methods.md §7.2–7.4).

Unauthenticated mode only (RFC 8762 §4.2.1, §4.3.1), with the RFC 8972 §3 SSID in the
first two MBZ octets.  TWAMP-Light interop (RFC 5357 §4.1.2, §4.2.1, App. I):

* a TWAMP-Light Session-Sender packet is 14 octets + ≥ 27 octets of padding, so any packet
  of **≥ 41 octets** is accepted as a sender packet (octets 14–15 are then read as SSID);
* a reflector packet is the 44-octet STAMP layout, of which the first **41 octets** are the
  TWAMP-Light reflector packet; a 41–43-octet reflection is decoded from those 41 octets.

Timestamps are kept as the raw unsigned 64-bit NTP value (32-bit seconds since 1900 +
32-bit fraction) so nothing is lost to float rounding; conversions use exact integer
arithmetic with fraction = floor(frac · 2³²) (§7.2, pitfall: not 0xFFFFFFFF).

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
#: largest UDP payload we build or accept (IPv4 maximum datagram minus headers)
MAX_SIZE = 65_507

_SENDER_HEAD = struct.Struct("!IQHH")  # seq, timestamp, error estimate, SSID (16 octets)
_REFLECTOR_HEAD = struct.Struct("!IQHHQIQHHB")  # 41 octets, RFC 5357 §4.2.1 / RFC 8762 §4.3.1


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
    """RFC 4656 §4.1.2 Error Estimate: ``S(1) Z(1) Scale(6) Multiplier(8)`` (§7.2).

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


def decode_sender(data: bytes) -> SenderPacket:
    """Parse a Session-Sender packet; ≥ 41 octets (TWAMP-Light padded sender) required."""
    if len(data) < TWAMP_LIGHT_MIN_SIZE:
        raise StampDecodeError(
            f"sender packet has {len(data)} octets, at least {TWAMP_LIGHT_MIN_SIZE} required"
        )
    if len(data) > MAX_SIZE:
        raise StampDecodeError(f"sender packet has {len(data)} octets, above {MAX_SIZE}")
    seq, timestamp, error_estimate, ssid = _SENDER_HEAD.unpack_from(data)
    return SenderPacket(seq, timestamp, error_estimate, ssid, size=len(data))


@dataclass(frozen=True, slots=True)
class ReflectorPacket:
    """Session-Reflector test packet, unauthenticated (RFC 8762 §4.3.1; docs/methods.md §7.3).

    ``timestamp`` is T3 (start of reflector transmission), ``receive_timestamp`` is T2,
    ``sender_timestamp`` is the copied T1; ``error_estimate`` applies to T2 and T3.
    ``sender_ttl`` is the TTL/Hop Limit the reflector saw on the sender's packet.
    """

    seq: int
    timestamp: int
    error_estimate: int
    ssid: int
    receive_timestamp: int
    sender_seq: int
    sender_timestamp: int
    sender_error_estimate: int
    sender_ttl: int
    size: int = BASE_SIZE

    def encode(self, tail: bytes = b"") -> bytes:
        """Wire bytes of length ``size``: 41-octet head, MBZ to 44, then ``tail``.

        ``size`` 41–43 gives a TWAMP-Light-sized reflection (the trailing MBZ octets are
        cut); above 44 the reply carries ``tail`` (the sender's own octets beyond 44, RFC
        8762 §4.3) padded with zeros — so the reply is never larger than ``size``.
        """
        if not TWAMP_LIGHT_MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"reflector packet size must be {TWAMP_LIGHT_MIN_SIZE}..{MAX_SIZE}")
        head = _REFLECTOR_HEAD.pack(
            self.seq,
            self.timestamp,
            self.error_estimate,
            self.ssid,
            self.receive_timestamp,
            self.sender_seq,
            self.sender_timestamp,
            self.sender_error_estimate,
            0,
            self.sender_ttl,
        )
        body = head + bytes(BASE_SIZE - len(head)) + tail
        if len(body) < self.size:
            body += bytes(self.size - len(body))
        return body[: self.size]


def decode_reflector(data: bytes) -> ReflectorPacket:
    """Parse a Session-Reflector packet; ≥ 41 octets (TWAMP-Light reflection) required."""
    if len(data) < TWAMP_LIGHT_MIN_SIZE:
        raise StampDecodeError(
            f"reflector packet has {len(data)} octets, at least {TWAMP_LIGHT_MIN_SIZE} required"
        )
    if len(data) > MAX_SIZE:
        raise StampDecodeError(f"reflector packet has {len(data)} octets, above {MAX_SIZE}")
    (seq, ts, err, ssid, rx_ts, s_seq, s_ts, s_err, _mbz, s_ttl) = _REFLECTOR_HEAD.unpack_from(data)
    return ReflectorPacket(seq, ts, err, ssid, rx_ts, s_seq, s_ts, s_err, s_ttl, size=len(data))
