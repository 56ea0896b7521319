"""RFC 6349 TCP throughput-testing arithmetic (docs/methods.md §6.10; vectors V14–V16).

The RFC counts KB as 1000 bytes.  These are helpers for reports and for checking a
throughput result against the link's theoretical maximum; they are not measurements.
"""

from __future__ import annotations

ETHERNET_OVERHEAD_BYTES = 14 + 4 + 12 + 7 + 1  # header, FCS, IFG, preamble, SFD (§6.10)


def bdp_bits(rtt_s: float, bottleneck_bps: float) -> float:
    """Bandwidth-delay product in bits; the minimum receive window is BDP/8 bytes."""
    return rtt_s * bottleneck_bps


def window_limited_throughput_bps(rwnd_bytes: float, rtt_s: float) -> float:
    """RWND·8 / RTT: 16 KB at 5 ms → 25.6 Mbit/s (V14)."""
    return rwnd_bytes * 8 / rtt_s


def max_tcp_throughput_bps(
    link_bps: float, mtu_bytes: int = 1500, frame_overhead_bytes: int = ETHERNET_OVERHEAD_BYTES
) -> float:
    """(MTU − 40)·8·FPS with FPS = ⌊link / ((MTU + overhead)·8)⌋ (V15: 94.9 Mbit/s at 100 M)."""
    fps = int(link_bps // ((mtu_bytes + frame_overhead_bytes) * 8))
    return (mtu_bytes - 40) * 8 * fps


def transfer_time_ratio(actual_s: float, ideal_s: float) -> float:
    """Actual / ideal transfer time (12 s / 8 s → 1.5, V16)."""
    return actual_s / ideal_s


def tcp_efficiency_percent(transmitted_bytes: float, retransmitted_bytes: float) -> float:
    """(transmitted − retransmitted)/transmitted·100, transmitted including retransmissions."""
    return (transmitted_bytes - retransmitted_bytes) / transmitted_bytes * 100


def buffer_delay_percent(rtt_during_s: float, baseline_rtt_s: float) -> float:
    """(RTT under load − baseline)/baseline·100 (25 → 32 ms → 28 %, V16)."""
    return (rtt_during_s - baseline_rtt_s) / baseline_rtt_s * 100
