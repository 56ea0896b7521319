"""Sample populations for scoring: which probes and tests count, and how failures count.

docs/architecture.md §2: "Unreachable is 100 % loss, not a gap".  Rules applied here, and
reported with every verdict:

* Probes of ``timeout``/``unreachable`` measurements count (their probes are recorded lost).
  A failed probe measurement with *no* probe rows contributes ``params.count`` lost probes
  (1 when the count is unknown) — it never vanishes.
* ``error`` and ``skipped`` measurements are excluded (the collector or the agent failed,
  not necessarily the network) and counted in ``excluded_tests``.
* A status-``ok`` measurement without probes is counted in ``empty_ok`` and named in the
  verdict notes.
* With ``failed_tests = "exclude"`` (BNetzA: only completed measurements are valid),
  timeout/unreachable tests are excluded too, and counted.
* A failed throughput test counts as speed 0; a failed timed transaction as +∞.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qos.profiles import Period
from qos.profiles.catalogue import METRICS, PerTestSource
from qos.records import Status
from qos_analysis.load import Dataset
from qos_analysis.stats.chunked import chunks
from qos_analysis.stats.windows import Windows, window_groups

FAILED = (str(Status.TIMEOUT), str(Status.UNREACHABLE))
EXCLUDED = (str(Status.ERROR), str(Status.SKIPPED))
US_PER_S = 1_000_000
LOST_FORWARD, LOST_BACKWARD, LOST_UNKNOWN = 1, 2, 3


@dataclass(frozen=True)
class Population:
    """Row-aligned arrays of one population plus per-scope bookkeeping."""

    scope: np.ndarray  # integer code into ``scopes``
    t_us: np.ndarray  # int64 epoch µs (probe send time or test start)
    tz_code: np.ndarray  # int code into ``tz_names`` (−1 = unknown time zone)
    values: dict[str, np.ndarray]
    measurement: np.ndarray  # integer row of data.measurements (-1 for synthesised)
    scopes: pd.DataFrame  # agent_id, collector, target (+ excluded/empty counts)
    tz_names: tuple[str | None, ...] = ()
    derived: dict[str, np.ndarray] = field(default_factory=dict, compare=False)
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.scope)

    def windows(
        self,
        window_s: float | None,
        *,
        period: Period | None = None,
        outside_period: bool = False,
        local_time: bool = False,
    ) -> Windows:
        """The rows grouped by (scope, window) with the windowing engine
        (:func:`qos_analysis.stats.windows.window_groups`); tests = distinct measurements."""
        return window_groups(
            self.t_us,
            self.scope,
            len(self.scopes),
            window_s,
            tz_code=self.tz_code,
            tz_names=self.tz_names,
            period=period,
            outside_period=outside_period,
            local_time=local_time,
            items=self.measurement,
        )


def epoch_us(series: pd.Series) -> np.ndarray:
    """UTC timestamps → int64 microseconds since the Unix epoch."""
    delta = series - pd.Timestamp(0, tz="UTC")
    return (delta // pd.Timedelta(1, "us")).to_numpy(dtype=np.int64)


def _timezones(meas: pd.DataFrame) -> tuple[np.ndarray, tuple[str | None, ...]]:
    codes, names = pd.factorize(meas["timezone"].astype(object))
    # int16 for the (few) zones of a panel: the codes are gathered once per probe row.
    dtype = np.int16 if len(names) < np.iinfo(np.int16).max else np.int32
    return np.asarray(codes, dtype=dtype), tuple(str(n) for n in names)


def _scopes(meas: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    keys = meas[["agent_id", "collector", "target"]]
    codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
    scopes = uniques.to_frame(index=False)
    scopes.columns = ["agent_id", "collector", "target"]
    return np.asarray(codes, dtype=np.int64), scopes


def narrow_codes(codes: np.ndarray, bound: int) -> np.ndarray:
    """``codes`` (all below ``bound``) as the narrowest signed integer type that holds
    ``bound``: per-row copies of them then take a quarter of the memory."""
    for dtype in (np.int16, np.int32):
        if bound < np.iinfo(dtype).max:
            return codes.astype(dtype)
    return codes.astype(np.int64)


def _count_by_scope(codes: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes[mask], minlength=n)[:n].astype(np.int64)


def probe_population(data: Dataset, *, failed_tests: str = "count") -> Population:
    """Probes of RTT measurements with time, scope and delays (see module rules)."""
    meas = data.measurements
    scope_of_meas, scopes = _scopes(meas)
    n_scopes = len(scopes)
    status = meas["status"].to_numpy(dtype=object)
    kind = meas["kind"].to_numpy(dtype=object)
    rtt_collectors = set(meas.loc[meas["kind"] == "rtt", "collector"])
    is_probe_kind = (kind == "rtt") | (
        pd.isna(kind) & meas["collector"].isin(list(rtt_collectors)).to_numpy()
    )
    failed = np.isin(status, FAILED)
    excluded = np.isin(status, EXCLUDED) | (failed & (failed_tests == "exclude"))
    usable = is_probe_kind & ~excluded
    sent = meas["probes_sent"].to_numpy(dtype=np.int64)
    empty_ok = is_probe_kind & (status == str(Status.OK)) & (sent == 0)
    scopes = scopes.assign(
        excluded_tests=_count_by_scope(scope_of_meas, is_probe_kind & excluded, n_scopes),
        empty_ok=_count_by_scope(scope_of_meas, empty_ok, n_scopes),
        tests=_count_by_scope(scope_of_meas, usable, n_scopes),
    )
    probes = data.probes
    # The probes' own categorical codes (as narrow as pandas keeps them), not a copy.
    m_code = probes["measurement_id"].cat.codes.to_numpy() if len(probes) else np.empty(0, np.int64)
    keep = usable[m_code] if len(m_code) else np.empty(0, bool)
    all_kept = bool(keep.all()) if len(keep) else True
    sel = slice(None) if all_kept else keep
    m_code = m_code[sel]
    started_us = epoch_us(meas["started_at"])
    send = probes["send_offset_s"].to_numpy(np.float64)[sel]
    t_us = _send_times(send, started_us, m_code)
    rtt = probes["rtt_s"].to_numpy(np.float64)[sel]
    values = {
        "rtt_s": rtt,
        "forward_delay_s": probes["forward_delay_s"].to_numpy(np.float64)[sel],
        "backward_delay_s": probes["backward_delay_s"].to_numpy(np.float64)[sel],
        "one_way_valid": probes["one_way_valid"].to_numpy(dtype=bool, na_value=False)[sel],
        "send_offset_s": send,
        "lost_dir": _lost_directions(probes["lost_direction"], rtt, sel),
    }
    # Failed measurements without any probe row: synthesise their lost probes.
    ghost = usable & failed & (sent == 0)
    notes: list[str] = []
    if ghost.any():
        expected = meas["probes_expected"].to_numpy(dtype=object)
        counts = np.array(
            [
                int(e) if e is not None and not pd.isna(e) and int(e) > 0 else 1
                for e in expected[ghost]
            ],
            dtype=np.int64,
        )
        rows = np.repeat(np.flatnonzero(ghost), counts)
        notes.append(
            f"{int(ghost.sum())} failed measurement(s) without probe rows counted as "
            f"{int(counts.sum())} lost probe(s) (params.count, else 1)"
        )
        m_code = np.concatenate([m_code, rows])
        t_us = np.concatenate([t_us, started_us[rows]])
        for name in ("rtt_s", "forward_delay_s", "backward_delay_s", "send_offset_s"):
            values[name] = np.concatenate([values[name], np.full(rows.size, np.nan)])
        values["lost_dir"] = np.concatenate(
            [values["lost_dir"], np.full(rows.size, LOST_UNKNOWN, dtype=np.int8)]
        )
        values["one_way_valid"] = np.concatenate(
            [values["one_way_valid"], np.zeros(rows.size, bool)]
        )
    tz_code, tz_names = _timezones(meas)
    return Population(
        scope=narrow_codes(scope_of_meas, 2 * n_scopes)[m_code],
        t_us=t_us,
        tz_code=tz_code[m_code],
        tz_names=tz_names,
        values=values,
        measurement=m_code,
        scopes=scopes,
        notes=tuple(notes),
    )


def _send_times(send: np.ndarray, started_us: np.ndarray, m_code: np.ndarray) -> np.ndarray:
    """Epoch µs of each probe: its measurement's start plus its send offset in whole µs,
    computed slice by slice (no sample-sized temporaries).  Send offsets are ≥ 0: adding
    0.5 and truncating rounds half up, like SQL round()."""
    t_us = np.empty(send.size, dtype=np.int64)
    for a, b in chunks(send.size):
        offset_us = send[a:b] * US_PER_S
        offset_us += 0.5
        t_us[a:b] = offset_us  # truncating cast, as astype(np.int64)
        t_us[a:b] += started_us[m_code[a:b]]
    return t_us


def _lost_directions(column: pd.Series, rtt: np.ndarray, sel: Any) -> np.ndarray:
    """Per probe: 0 delivered, 1 lost forward, 2 lost backward, 3 lost, direction unknown."""
    lost = np.isnan(rtt)
    out = np.where(lost, np.int8(LOST_UNKNOWN), np.int8(0))
    if len(column) and not bool(column.isna().all()):
        text = column.to_numpy(dtype=object, na_value=None)[sel]
        out[lost & (text == "forward")] = LOST_FORWARD
        out[lost & (text == "backward")] = LOST_BACKWARD
    return out


def directional_population(pop: Population) -> Population | None:
    """The probes split into a forward and a backward one-way population, or None.

    Available only when the data can support it (STAMP with synchronised clocks,
    docs/methods.md §7.5): every delivered probe has valid forward and backward delays and
    every lost probe says in which direction it was lost.  The forward population is every
    probe (lost = lost forward); the backward population is every probe that reached the
    reflector (lost = lost backward).  Scopes gain a ``direction`` column.
    """
    values = pop.values
    if "lost_dir" not in values or len(pop) == 0:
        return None
    rtt = values["rtt_s"]
    received = ~np.isnan(rtt)
    valid = values["one_way_valid"]
    if not valid.any():
        return None
    fwd, bwd = values["forward_delay_s"], values["backward_delay_s"]
    if not bool(np.all(valid[received] & ~np.isnan(fwd[received]) & ~np.isnan(bwd[received]))):
        return None
    lost_dir = values["lost_dir"]
    if np.any(lost_dir == LOST_UNKNOWN):
        return None
    back_rows = np.flatnonzero(lost_dir != LOST_FORWARD)
    # Forward delay of a probe lost on the way back is unknown: NaN there, not counted lost.
    fwd_delay = np.where(received, fwd, np.nan)
    fwd_lost = np.where(lost_dir == LOST_FORWARD, np.nan, 0.0)
    bwd_delay = np.where(received, bwd, np.nan)[back_rows]
    bwd_lost = np.where(lost_dir == LOST_BACKWARD, np.nan, 0.0)[back_rows]
    scopes = pd.concat(
        [pop.scopes.assign(direction="forward"), pop.scopes.assign(direction="backward")],
        ignore_index=True,
    )
    n_scopes = len(pop.scopes)
    return Population(
        scope=np.concatenate([pop.scope, pop.scope[back_rows] + n_scopes]),
        t_us=np.concatenate([pop.t_us, pop.t_us[back_rows]]),
        tz_code=np.concatenate([pop.tz_code, pop.tz_code[back_rows]]),
        tz_names=pop.tz_names,
        values={
            "direction_delay": np.concatenate([fwd_delay, bwd_delay]),
            "direction_lost": np.concatenate([fwd_lost, bwd_lost]),
            "send_offset_s": np.concatenate(
                [values["send_offset_s"], values["send_offset_s"][back_rows]]
            ),
        },
        measurement=np.concatenate([pop.measurement, pop.measurement[back_rows]]),
        scopes=scopes,
        notes=pop.notes,
    )


def _failed_directions(
    meas: pd.DataFrame, candidates: np.ndarray, kind: str
) -> tuple[np.ndarray, int]:
    """Direction of failed ``kind`` attempts without a result: ``params.direction`` or
    the only direction its collector produced; returns (direction per row, unknown count)."""
    out = np.full(len(meas), None, dtype=object)
    if not candidates.any():
        return out, 0
    thr = meas[meas["kind"] == kind]
    by_collector = thr.groupby("collector")["direction"].agg(lambda d: set(d.dropna()))
    unknown = 0
    for row in np.flatnonzero(candidates):
        collector = meas["collector"].iat[row]
        if collector not in by_collector.index:
            continue  # not a collector of this kind
        try:
            params = json.loads(meas["params_json"].iat[row] or "{}")
        except ValueError:
            params = {}
        direction = params.get("direction") if isinstance(params, dict) else None
        seen = by_collector[collector]
        if direction not in ("download", "upload"):
            direction = next(iter(seen)) if len(seen) == 1 else None
        if direction is None:
            unknown += 1
        out[row] = direction
    return out, unknown


def _relevant_tests(
    meas: pd.DataFrame, source: PerTestSource, failed: np.ndarray, notes: list[str]
) -> np.ndarray:
    """Measurements of the source's kind (and direction, or of its collectors), plus failed
    attempts without a result that belong to it: by their direction, else by their
    collector."""
    no_result = meas["kind"].isna().to_numpy()
    of_kind = meas["kind"] == source.kind
    if source.exclude_collectors:
        of_kind &= ~meas["collector"].isin(list(source.exclude_collectors))
    if source.collectors:  # the tests of named collectors, failed attempts included
        mine = meas["collector"].isin(list(source.collectors)).to_numpy()
        return mine & (of_kind.to_numpy() | (no_result & failed))
    if source.direction is None:
        collectors = set(meas.loc[of_kind, "collector"])
        return of_kind.to_numpy() | (
            no_result & failed & meas["collector"].isin(list(collectors)).to_numpy()
        )
    relevant = (of_kind & (meas["direction"] == source.direction)).to_numpy()
    # A failed attempt without a result still counts if its direction is known.
    guessed, unknown = _failed_directions(meas, no_result & failed, source.kind)
    if unknown:
        notes.append(
            f"{unknown} failed attempt(s) of a {source.kind} collector without a "
            "result could not be attributed to a direction and were not counted"
        )
    return relevant | (guessed == source.direction)


def test_population(data: Dataset, metric: str, *, failed_tests: str = "count") -> Population:
    """One row per test for a per-test metric of the catalogue (``download_speed``,
    ``upload_speed``, ``transaction_time``, ...): its ``PerTestSource`` says which
    measurements count, which column holds the value and what a failed test counts as."""
    spec = METRICS.get(metric)
    if spec is None or spec.per_test is None:
        raise ValueError(f"{metric} is not a per-test metric")
    source = spec.per_test
    meas = data.measurements
    scope_of_meas, scopes = _scopes(meas)
    n_scopes = len(scopes)
    status = meas["status"].to_numpy(dtype=object)
    failed = np.isin(status, FAILED)
    notes: list[str] = []
    relevant = _relevant_tests(meas, source, failed, notes)
    raw = meas[source.column].to_numpy(np.float64)
    fail_value = source.failed_value
    # A failed test counts only where it has a value (0 bit/s, +inf); NaN: it has none.
    count_failed = failed_tests == "count" and not math.isnan(fail_value)
    excluded = np.isin(status, EXCLUDED) | (failed & (not count_failed))
    ok = status == str(Status.OK)
    missing_value = relevant & ok & np.isnan(raw)
    usable = relevant & ~excluded & ~missing_value
    values = np.where(failed, fail_value, raw)
    if missing_value.any():
        notes.append(f"{int(missing_value.sum())} ok test(s) without a {metric} value excluded")
    if count_failed and (usable & failed).any():
        notes.append(
            f"{int((usable & failed).sum())} failed test(s) counted as "
            f"{'infinitely slow' if math.isinf(fail_value) else f'{fail_value:g} {spec.unit}'}"
        )
    scopes = scopes.assign(
        excluded_tests=_count_by_scope(
            scope_of_meas, relevant & (excluded | missing_value), n_scopes
        ),
        empty_ok=np.zeros(n_scopes, dtype=np.int64),
        tests=_count_by_scope(scope_of_meas, usable, n_scopes),
    )
    rows = np.flatnonzero(usable)
    started_us = epoch_us(meas["started_at"])
    tz_code, tz_names = _timezones(meas)
    return Population(
        scope=scope_of_meas[rows],
        t_us=started_us[rows],
        tz_code=tz_code[rows],
        tz_names=tz_names,
        values={"value": values[rows]},
        measurement=rows,
        scopes=scopes,
        notes=tuple(notes),
    )
