"""STAMP packet codec: NTP epoch, sender packet and Error Estimate vectors (RFC 8762 §4.2.1,
RFC 4656 §4.1.2) and Scapy ``scapy.contrib.stamp`` as an oracle.

Scapy rounds timestamp fractions to ~1e-6 s, so oracle comparisons use
exactly representable fractions (multiples of 2⁻ⁿ); our own floor(frac · 2³²) rule is
checked separately against exact rational arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qos_agent.stamp.codec import (
    BASE_SIZE,
    NTP_UNIX_OFFSET_S,
    ErrorEstimate,
    ReflectorPacket,
    SenderPacket,
    StampDecodeError,
    decode_reflector,
    decode_sender,
    ntp_diff_s,
    ntp_from_unix,
    ntp_from_unix_ns,
    ntp_to_unix,
)

EPOCH_2024 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
V19_HEX = "00000001e93c7f00800000008001000000000000000000000000000000000000000000000000000000000000"


def test_v18_ntp_epoch() -> None:
    assert EPOCH_2024 == 1_704_067_200
    assert ntp_from_unix(EPOCH_2024) >> 32 == 3_913_056_000 == 0xE93C7F00
    assert ntp_from_unix(EPOCH_2024) & 0xFFFFFFFF == 0
    assert ntp_from_unix_ns(EPOCH_2024 * 10**9) == 0xE93C7F00 << 32
    assert NTP_UNIX_OFFSET_S == 2_208_988_800


def test_v19_sender_vector() -> None:
    t1 = ntp_from_unix(Fraction(EPOCH_2024) + Fraction(1, 2))
    assert t1 == (0xE93C7F00 << 32) | 0x80000000
    packet = SenderPacket(seq=1, timestamp=t1, error_estimate=0x8001, ssid=0)
    wire = packet.encode()
    assert len(wire) == BASE_SIZE == 44
    assert wire.hex() == V19_HEX
    assert decode_sender(bytes.fromhex(V19_HEX)) == packet


def test_v20_error_estimate() -> None:
    one = ErrorEstimate(synchronized=True, scale=0, multiplier=1)
    assert one.encode() == 0x8001
    assert one.seconds == pytest.approx(2.328e-10, rel=1e-3)
    assert one.seconds == 2.0**-32
    big = ErrorEstimate(synchronized=True, scale=10, multiplier=244)
    assert big.encode() == 0x8AF4
    assert big.seconds == pytest.approx(5.817e-5, rel=1e-3)
    assert ErrorEstimate.decode(0x8AF4) == big
    assert ErrorEstimate.decode(0x4000).ptp is True
    assert ErrorEstimate.decode(0x8000).valid is False  # multiplier 0 is corrupt (RFC 4656)


def test_ntp_fraction_is_floor_times_2_pow_32_not_0xffffffff() -> None:
    # floor(frac · 2³²), not frac · 0xFFFFFFFF:
    # 0.5125 s → floor(0.5125 · 2³²) = 0x83333333 (Scapy gives 0x83333000)
    ts = ntp_from_unix(Fraction(EPOCH_2024) + Fraction(5125, 10000))
    assert ts & 0xFFFFFFFF == 0x83333333
    ns = ntp_from_unix_ns(EPOCH_2024 * 10**9 + 512_500_000)
    assert ns == ts
    # 1 ns below a second: fraction must stay below 2³² and floor, never round up
    assert ntp_from_unix_ns(EPOCH_2024 * 10**9 + 999_999_999) & 0xFFFFFFFF == 0xFFFFFFFB


@given(st.integers(min_value=0, max_value=(2**32 - NTP_UNIX_OFFSET_S - 1) * 10**9))
def test_ntp_from_unix_ns_matches_exact_floor(unix_ns: int) -> None:
    exact = (Fraction(unix_ns, 10**9) + NTP_UNIX_OFFSET_S) * 2**32
    assert ntp_from_unix_ns(unix_ns) == exact.numerator // exact.denominator
    assert abs(ntp_to_unix(ntp_from_unix_ns(unix_ns)) - unix_ns / 1e9) < 1e-6


def test_ntp_diff_is_signed_and_wraps() -> None:
    a = ntp_from_unix(EPOCH_2024)
    assert ntp_diff_s(a + (1 << 31), a) == 0.5
    assert ntp_diff_s(a, a + (1 << 31)) == -0.5
    assert ntp_diff_s(5 << 31, (2**64) - (1 << 31)) == 3.0  # across the 2036 era rollover


@given(st.floats(min_value=1e-10, max_value=1e6, allow_nan=False))
def test_error_estimate_from_seconds_never_understates(error_s: float) -> None:
    est = ErrorEstimate.from_seconds(error_s, synchronized=False)
    assert est.valid
    assert est.seconds >= error_s
    assert ErrorEstimate.decode(est.encode()) == est
    if est.scale > 0:  # the smallest scale was chosen: one less would not fit
        assert Fraction(error_s) * 2**32 / 2 ** (est.scale - 1) > 255


@pytest.mark.parametrize("size", [41, 42, 44, 45, 100, 1400])
def test_reflector_packet_roundtrip_any_size(size: int) -> None:
    pkt = ReflectorPacket(
        seq=7,
        timestamp=(3 << 32) | 5,
        error_estimate=0x1D80,
        ssid=0xBEEF,
        receive_timestamp=(3 << 32) | 1,
        sender_seq=9,
        sender_timestamp=(2 << 32) | 0x80000000,
        sender_error_estimate=0x8001,
        sender_ttl=64,
        size=size,
    )
    tail = bytes(range(256)) * 6
    wire = pkt.encode(tail=tail)
    assert len(wire) == size
    assert decode_reflector(wire) == pkt
    if size > BASE_SIZE:
        assert wire[BASE_SIZE:] == tail[: size - BASE_SIZE]


def test_short_packets_are_rejected_with_a_clear_error() -> None:
    with pytest.raises(StampDecodeError, match="at least 41"):
        decode_sender(b"\x00" * 40)
    with pytest.raises(StampDecodeError, match="at least 14"):
        decode_sender(b"\x00" * 13, min_size=14)
    # a reply must reach the copied Session-Sender Timestamp (octets 28-35) to be matched
    with pytest.raises(StampDecodeError, match="at least 36"):
        decode_reflector(b"")
    with pytest.raises(StampDecodeError, match="at least 36"):
        decode_reflector(b"\x00" * 35)


def test_twamp_light_sender_is_accepted() -> None:
    # RFC 5357 §4.1.2: 14 octets + 27 octets of padding (the TWAMP-Light minimum)
    wire = (5).to_bytes(4, "big") + (123 << 32).to_bytes(8, "big") + b"\x80\x01" + b"\x00" * 27
    assert len(wire) == 41
    packet = decode_sender(wire)
    assert (packet.seq, packet.timestamp, packet.error_estimate, packet.size) == (
        5,
        123 << 32,
        0x8001,
        41,
    )


# --------------------------------------------------------------------------- Scapy oracle
scapy_stamp = pytest.importorskip("scapy.contrib.stamp", reason="Scapy (dev extra) not installed")

EXACT_FRACTIONS = [
    Fraction(0),
    Fraction(1, 2),
    Fraction(3, 4),
    Fraction(1, 1024),
    Fraction(12345, 2**16),
    Fraction(2**20 - 1, 2**20),
]


@pytest.mark.parametrize("frac", EXACT_FRACTIONS)
@pytest.mark.parametrize(
    ("seq", "ssid", "err"), [(0, 0, 0x8001), (1, 1, 0x1D80), (2**32 - 1, 0xFFFF, 0x8AF4)]
)
def test_sender_bytes_equal_scapy(frac: Fraction, seq: int, ssid: int, err: int) -> None:
    ntp_seconds = Fraction(3_913_056_000) + frac
    ours = SenderPacket(seq, ntp_from_unix(ntp_seconds - NTP_UNIX_OFFSET_S), err, ssid).encode()
    e = ErrorEstimate.decode(err)
    theirs = bytes(
        scapy_stamp.STAMPSessionSenderTestUnauthenticated(
            seq=seq,
            ts=float(ntp_seconds),
            ssid=ssid,
            err_estimate=scapy_stamp.ErrorEstimate(
                S=int(e.synchronized), Z=int(e.ptp), scale=e.scale, multiplier=e.multiplier
            ),
        )
    )
    assert ours == theirs


@pytest.mark.parametrize("frac", EXACT_FRACTIONS)
def test_reflector_bytes_equal_scapy(frac: Fraction) -> None:
    base = Fraction(3_913_056_000) + frac
    t1, t2, t3 = base, base + Fraction(1, 8), base + Fraction(3, 16)
    ours = ReflectorPacket(
        seq=42,
        timestamp=ntp_from_unix(t3 - NTP_UNIX_OFFSET_S),
        error_estimate=0x1D80,
        ssid=0x1234,
        receive_timestamp=ntp_from_unix(t2 - NTP_UNIX_OFFSET_S),
        sender_seq=41,
        sender_timestamp=ntp_from_unix(t1 - NTP_UNIX_OFFSET_S),
        sender_error_estimate=0x8001,
        sender_ttl=253,
    ).encode()
    theirs = bytes(
        scapy_stamp.STAMPSessionReflectorTestUnauthenticated(
            seq=42,
            ts=float(t3),
            ssid=0x1234,
            ts_rx=float(t2),
            seq_sender=41,
            ts_sender=float(t1),
            ttl_sender=253,
            err_estimate=scapy_stamp.ErrorEstimate(S=0, Z=0, scale=29, multiplier=128),
            err_estimate_sender=scapy_stamp.ErrorEstimate(S=1, Z=0, scale=0, multiplier=1),
        )
    )
    assert ours == theirs
    parsed = scapy_stamp.STAMPSessionReflectorTestUnauthenticated(ours)
    assert (parsed.seq, parsed.seq_sender, parsed.ttl_sender, parsed.ssid) == (42, 41, 253, 0x1234)
    # Scapy decodes to a rounded Decimal (~1e-6 s): compare to its resolution
    assert abs(Fraction(parsed.ts_sender) - t1) < Fraction(1, 10**6)


@given(
    seq=st.integers(0, 2**32 - 1),
    ssid=st.integers(0, 0xFFFF),
    ts=st.integers(0, 2**64 - 1),
    err=st.integers(0, 0xFFFF),
)
def test_scapy_parses_our_sender_packets(seq: int, ssid: int, ts: int, err: int) -> None:
    wire = SenderPacket(seq, ts, err, ssid).encode()
    parsed = scapy_stamp.STAMPSessionSenderTestUnauthenticated(wire)
    assert (parsed.seq, parsed.ssid) == (seq, ssid)
    assert bytes(parsed.err_estimate) == err.to_bytes(2, "big")
    assert decode_sender(bytes(parsed)) == SenderPacket(seq, ts, err, ssid)
