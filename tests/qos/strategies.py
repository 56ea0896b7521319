"""Hypothesis strategies for qos records, shared by the serialisation and store tests.

They generate what collectors really emit (probes in sequence order with unique sequence
numbers, throughput intervals unique per stream and start) and everything a record may hold
(lost probes as ``None``, loss directions, labels, parameters, arbitrary time zones), so that
"what is written reads back equal" is checked over the whole record space, not a few samples.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from qos.records import (
    LossDirection,
    Measurement,
    ProbeSample,
    RttResult,
    Status,
    ThroughputInterval,
    ThroughputResult,
    TimingResult,
)

# Any Unicode text a user or a peer could put into a label or an error message; lone
# surrogates are not text (they cannot be encoded as UTF-8 by any store).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
small_int = st.integers(min_value=0, max_value=2**31 - 1)

json_scalar = st.none() | st.booleans() | int64 | finite | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
json_object = st.dictionaries(text, json_value, max_size=4)

aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.just(UTC)
    | st.builds(
        timezone,
        st.timedeltas(
            min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
        ),
    ),
)


@st.composite
def probe_lists(draw: st.DrawFn, max_size: int = 30) -> tuple[ProbeSample, ...]:
    seqs = sorted(draw(st.sets(small_int, max_size=max_size)))
    probes = []
    for seq in seqs:
        lost = draw(st.booleans())
        probes.append(
            ProbeSample(
                seq=seq,
                send_offset_s=draw(non_negative),
                rtt_s=None if lost else draw(non_negative),
                ttl=draw(st.none() | st.integers(0, 255)),
                duplicates=draw(st.integers(0, 5)),
                size_bytes=draw(st.none() | st.integers(0, 65535)),
                forward_delay_s=draw(st.none() | finite),
                backward_delay_s=draw(st.none() | finite),
                reflector_residence_s=draw(st.none() | non_negative),
                lost_direction=draw(st.none() | st.sampled_from(LossDirection)) if lost else None,
                one_way_valid=draw(st.none() | st.booleans()),
                reflector_ttl=draw(st.none() | st.integers(0, 255)),
            )
        )
    return tuple(probes)


rtt_results = st.builds(
    RttResult,
    probes=probe_lists(),
    interval_s=st.none() | non_negative,
    timeout_s=st.none() | non_negative,
    packet_size_bytes=st.none() | st.integers(0, 65535),
    details=json_object,
)


@st.composite
def interval_lists(draw: st.DrawFn) -> tuple[ThroughputInterval, ...]:
    keys = draw(st.sets(st.tuples(non_negative, st.integers(-1, 8)), max_size=12))
    return tuple(
        ThroughputInterval(
            stream=stream,
            start_offset_s=start,
            duration_s=draw(non_negative),
            bytes=draw(st.integers(0, 2**62)),
            warmup=draw(st.booleans()),
        )
        for start, stream in sorted(keys)
    )


throughput_results = st.builds(
    ThroughputResult,
    direction=st.sampled_from(["download", "upload"]),
    streams=st.integers(1, 16),
    duration_s=non_negative,
    warmup_s=non_negative,
    bytes_total=st.integers(0, 2**62),
    goodput_bps=st.none() | non_negative,
    intervals=interval_lists(),
    details=json_object,
)

timing_results = st.builds(
    TimingResult,
    phases_s=st.dictionaries(text, st.none() | non_negative, max_size=5),
    outcome=st.none() | text,
    details=json_object,
)

measurements = st.builds(
    Measurement,
    agent_id=text,
    collector=text,
    target=text,
    started_at=aware_datetimes,
    duration_s=non_negative,
    status=st.sampled_from(Status),
    result=st.none() | rtt_results | throughput_results | timing_results,
    error=st.none() | text,
    params=json_object,
    labels=st.dictionaries(text, text, max_size=4),
)
