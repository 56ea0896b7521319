"""Vectorised per-group order statistics: many windows × scopes in one pass.

Sorting is the cost of exact percentiles, so values are sorted once per group and every
statistic (RFC 2330 percentiles at exact ranks, minimum, maximum, order-statistic bounds,
docs/methods.md §6.4 and §9.3) is then an index lookup.  Values are first made contiguous per
group with a stable (radix when the group count fits 16 bits) sort of the group codes, then
each group's slice is sorted in place: far cheaper than a lexicographic sort on
(group, value) for millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from qos_analysis.stats import chunked
from qos_analysis.stats.chunked import chunks, run_starts
from qos_analysis.stats.quantiles import lower_bound_rank, rank, upper_bound_rank


@dataclass(frozen=True)
class SortedGroups:
    """Values sorted within each group; ``starts``/``counts`` locate group g's slice."""

    values: np.ndarray  # float64, sorted within each group
    starts: np.ndarray  # int64 per group
    counts: np.ndarray  # int64 per group (defined values only)
    n_groups: int
    lost: str = "exclude"  # how NaN (lost) values were treated: "exclude" or "infinite"

    def take(self, ranks: np.ndarray) -> np.ndarray:
        """Value at 1-based ``ranks`` per group; NaN where the rank is outside 1…n."""
        ranks = np.asarray(ranks, dtype=np.int64)
        ok = (ranks >= 1) & (ranks <= self.counts)
        out = np.full(self.n_groups, np.nan)
        out[ok] = self.values[self.starts[ok] + ranks[ok] - 1]
        return out

    def quantile(self, p: float | str | Fraction) -> np.ndarray:
        """RFC 2330 p-quantile per group (NaN for an empty group, −∞ for p = 0)."""
        ranks = rank(self.counts, p)
        out = self.take(ranks)
        out[(ranks == 0) & (self.counts > 0)] = -np.inf
        return out

    def minimum(self) -> np.ndarray:
        return self.take(np.ones(self.n_groups, dtype=np.int64))

    def maximum(self) -> np.ndarray:
        return self.take(self.counts)

    def median_rfc7679(self, *, lost: str = "infinite") -> np.ndarray:
        """RFC 7679 §5.2 median: mean of the two central values for even N.

        RFC 7679 §4 counts a lost packet as +∞ (``lost="infinite"``, the default); a median
        of delivered packets only must be asked for with ``lost="exclude"``.  The convention
        is fixed when the groups are sorted (:func:`sort_groups`), so asking for another one
        than the groups were sorted with is an error rather than a silent change of meaning.
        """
        if lost != self.lost:
            raise ValueError(
                f"groups were sorted with lost={self.lost!r}; a median with lost={lost!r} "
                f"needs sort_groups(..., lost={lost!r})"
            )
        low = self.take((self.counts + 1) // 2)
        high = self.take(self.counts // 2 + 1)
        both_inf = np.isinf(low) & np.isinf(high)
        with np.errstate(invalid="ignore"):
            out = np.where(self.counts % 2 == 1, low, (low + high) / 2)
        return np.where(both_inf, high, out)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, mean, sample standard deviation) per group, two-pass over sorted slices."""
        n = self.counts
        mean = np.full(self.n_groups, np.nan)
        sd = np.full(self.n_groups, np.nan)
        nonempty = n > 0
        if not nonempty.any():
            return n, mean, sd
        starts = self.starts[nonempty]
        with np.errstate(invalid="ignore"):
            mean[nonempty] = np.add.reduceat(self.values, starts) / n[nonempty]
            ss = _squared_deviations(self.values, starts, n[nonempty], mean[nonempty])
        several = n[nonempty] >= 2
        out = np.full(starts.size, np.nan)
        out[several] = np.sqrt(ss[several] / (n[nonempty][several] - 1))
        sd[nonempty] = out
        return n, mean, sd

    def upper_bound(self, p: float | str | Fraction, confidence: float) -> np.ndarray:
        """Distribution-free one-sided upper bound of ξ_p (+∞ if the sample is too small)."""
        ranks = upper_bound_rank(self.counts, p, confidence)
        out = self.take(ranks)
        out[(ranks > self.counts) & (self.counts > 0)] = np.inf
        return out

    def lower_bound(self, p: float | str | Fraction, confidence: float) -> np.ndarray:
        """Distribution-free one-sided lower bound of ξ_p (−∞ if the sample is too small)."""
        ranks = lower_bound_rank(self.counts, p, confidence)
        out = self.take(ranks)
        out[(ranks < 1) & (self.counts > 0)] = -np.inf
        return out


def _squared_deviations(
    values: np.ndarray, starts: np.ndarray, counts: np.ndarray, means: np.ndarray
) -> np.ndarray:
    """Sum of squared deviations from its mean of each non-empty group (``starts``,
    ``counts``, ``means`` of the groups, back to back in ``values``).

    Groups are taken a batch of about :data:`~qos_analysis.stats.chunked.CHUNK_ROWS` rows at
    a time, so the deviations live in one small buffer instead of an array of the samples'
    size; each group's sum runs over the same values in the same order as over the whole
    array, so the sums are identical.
    """
    ends = starts + counts
    out = np.empty(starts.size, dtype=np.float64)
    first = 0
    while first < starts.size:
        # The groups of this batch: at least one, up to CHUNK_ROWS rows in all.
        limit = starts[first] + chunked.CHUNK_ROWS
        last = max(first + 1, int(np.searchsorted(ends, limit, "right")))
        lo, hi = int(starts[first]), int(ends[last - 1])
        dev = np.repeat(means[first:last], counts[first:last])
        np.subtract(values[lo:hi], dev, out=dev)
        np.multiply(dev, dev, out=dev)
        out[first:last] = np.add.reduceat(dev, starts[first:last] - lo)
        first = last
    return out


def _runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length, code) of each run of equal consecutive codes."""
    starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [codes.size])))
    return starts, lengths, codes[starts]


def _contiguous(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """A copy of ``values`` reordered so each group's values are contiguous, groups in code
    order, rows of a group in their original order (a stable sort by code).

    Rows usually arrive in runs of one group (a test's probes fall in one window), so the
    runs are ordered, not the rows: a stable sort of the run codes, then one copy of the
    runs in that order; short runs fall back to a stable sort of the rows.
    """
    if codes.size < 2:
        return values.copy()
    starts, lengths, run_codes = _runs(codes)
    if bool(np.all(run_codes[1:] > run_codes[:-1])):
        return values.copy()
    if starts.size > codes.size // 8:
        small = codes.astype(np.uint16) if n_groups <= np.iinfo(np.uint16).max + 1 else codes
        return values[np.argsort(small, kind="stable")]
    by_code = np.argsort(run_codes, kind="stable")
    pieces = zip(starts[by_code].tolist(), lengths[by_code].tolist(), strict=True)
    return np.concatenate([values[a : a + n] for a, n in pieces])


def sort_groups(
    codes: np.ndarray,
    values: np.ndarray,
    n_groups: int,
    *,
    lost: str = "exclude",
    divisor: float = 1.0,
) -> SortedGroups:
    """Group ``values / divisor`` by integer ``codes`` (0…n_groups−1) and sort within each
    group.

    NaN marks a lost packet: dropped with ``lost="exclude"`` (conditional statistics,
    RFC 3393 §4.1), kept as +∞ with ``lost="infinite"`` (RFC 7679 §4).  One copy of the
    values is made (groups back to back); it is divided by ``divisor`` (element by element,
    as dividing the whole array first would) and the lost ones are dropped or set to +∞ in
    it, in place.
    """
    if lost not in ("exclude", "infinite"):
        raise ValueError(f"lost must be 'exclude' or 'infinite', not {lost!r}")
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    counts = np.bincount(codes, minlength=n_groups).astype(np.int64)
    grouped = _contiguous(codes, values, n_groups)
    if divisor != 1.0:
        np.divide(grouped, divisor, out=grouped)
    if missing.any():
        if lost == "exclude":
            counts -= np.bincount(codes[missing], minlength=counts.size)
            grouped = _drop_nan(grouped)
        else:
            _nan_to_inf(grouped)
    return _sort_within(grouped, counts, n_groups, lost)


def _drop_nan(values: np.ndarray) -> np.ndarray:
    """The non-NaN values of ``values`` in their order, compacted to its front in place
    (slice by slice: every slice is read before anything is written over it)."""
    end = 0
    for a, b in chunks(values.size):
        kept = values[a:b][~np.isnan(values[a:b])]
        values[end : end + kept.size] = kept
        end += kept.size
    return values[:end]


def _nan_to_inf(values: np.ndarray) -> None:
    """+∞ for every NaN of ``values``, in place."""
    for a, b in chunks(values.size):
        part = values[a:b]
        part[np.isnan(part)] = np.inf


def _sort_within(values: np.ndarray, counts: np.ndarray, n_groups: int, lost: str) -> SortedGroups:
    """Sort each group's slice of ``values`` (groups back to back, ``counts`` rows each;
    ``values`` is the caller's fresh array, sorted in place)."""
    starts = np.zeros(n_groups, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    if n_groups and values.size / n_groups < 64:
        inner = np.lexsort((values, np.repeat(np.arange(n_groups), counts)))
        values = values[inner]
    else:
        for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
            if count > 1:
                values[start : start + count].sort()
    return SortedGroups(values, starts, counts, n_groups, lost)


def group_sum(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=n_groups)


def group_count(codes: np.ndarray, n_groups: int) -> np.ndarray:
    return np.bincount(codes, minlength=n_groups).astype(np.int64)


def group_mean_std(
    codes: np.ndarray, values: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, mean, sample standard deviation) of the defined values per group (two-pass)."""
    valid = ~np.isnan(values)
    all_valid = bool(valid.all())
    v = values if all_valid else np.where(valid, values, 0.0)
    n = (
        np.bincount(codes, minlength=n_groups)
        if all_valid
        else np.bincount(codes, weights=valid, minlength=n_groups)
    ).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes, weights=v, minlength=n_groups) / n
        dev = v - mean[codes]
        if not all_valid:
            dev[~valid] = 0.0
        var = np.bincount(codes, weights=dev * dev, minlength=n_groups) / (n - 1)
    mean[n == 0] = np.nan
    var[n < 2] = np.nan
    return n, mean, np.sqrt(var)


def group_codes(
    scope: np.ndarray, n_scopes: int, window: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense group codes for (scope, window number) pairs, without hashing when possible.

    Returns (code per row, scope per group, window number per group); groups are ordered
    by scope, then window.  A bincount over the (scope × window) range compacts the pairs
    in linear time; when that range is much larger than the data, hashing is used.
    """
    scope, window = _integers(scope), _integers(window)
    if scope.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    # Rows come in runs of one (scope, window) pair: code the runs, then expand.
    starts = run_starts(scope, window)
    return _code_runs(
        starts,
        scope[starts].astype(np.int64),
        window[starts].astype(np.int64),
        n_scopes,
        scope.size,
    )


def _integers(values: np.ndarray) -> np.ndarray:
    """``values`` as an integer array, not copied when it is one (of any width)."""
    values = np.asarray(values)
    return values if values.dtype.kind in "iu" else values.astype(np.int64)


def group_codes_by_width(
    scope: np.ndarray, n_scopes: int, t_us: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``group_codes(scope, n_scopes, t_us // width)`` without an array of window numbers:
    the runs are found slice by slice, window numbers computed for each slice only."""
    scope = _integers(scope)
    t_us = np.asarray(t_us, dtype=np.int64)
    n = scope.size
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    found = [np.zeros(1, dtype=np.int64)]
    for a, b in chunks(n - 1):
        window = t_us[a : b + 1] // width
        change = scope[a + 1 : b + 1] != scope[a:b]
        change |= window[1:] != window[:-1]
        found.append(np.flatnonzero(change) + (a + 1))
    starts = np.concatenate(found)
    return _code_runs(starts, scope[starts].astype(np.int64), t_us[starts] // width, n_scopes, n)


def _code_runs(
    starts: np.ndarray, run_scope: np.ndarray, run_window: np.ndarray, n_scopes: int, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`group_codes` from the runs: ``starts`` of the runs of ``n`` rows and each
    run's scope and window number."""
    lengths = np.diff(np.concatenate((starts, [n])))
    w_min = int(run_window.min())
    n_w = int(run_window.max()) - w_min + 1
    key = run_scope * n_w + (run_window - w_min)
    span = max(n_scopes, int(run_scope.max()) + 1) * n_w
    if span <= max(4 * key.size, 1 << 20):
        present = np.flatnonzero(np.bincount(key, minlength=span))
        remap = np.empty(span, dtype=np.int64)
        remap[present] = np.arange(present.size, dtype=np.int64)
        run_codes, g_key = remap[key], present
    else:
        codes_raw, uniques = pd.factorize(key, sort=True)
        run_codes, g_key = np.asarray(codes_raw, dtype=np.int64), np.asarray(uniques, np.int64)
    return np.repeat(run_codes, lengths), g_key // n_w, g_key % n_w + w_min


def distinct_per_group(codes: np.ndarray, item: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``item`` values (e.g. measurements) per group.

    Probe rows arrive grouped by measurement and in send order, so each (group, item) pair
    is one contiguous run and counting run starts is exact; otherwise hash the pairs.
    """
    if codes.size == 0:
        return np.zeros(n_groups, dtype=np.int64)
    same_item = item[1:] == item[:-1]
    # Within each item the codes never decrease (compared in place, not gathered).
    ordered = bool(np.all(item[1:] >= item[:-1])) and bool(
        np.all((codes[1:] >= codes[:-1]) | ~same_item)
    )
    if ordered:
        starts = np.ones(codes.size, dtype=bool)
        starts[1:] = ~same_item | (codes[1:] != codes[:-1])
        return np.bincount(codes[starts], minlength=n_groups).astype(np.int64)
    span = int(item.max()) + 1
    pairs = pd.unique(codes * span + item)
    return np.bincount(pairs // span, minlength=n_groups).astype(np.int64)
