"""Row-wise work done slice by slice (``qos_analysis.stats.chunked``) gives what the same
work over whole arrays gives, bit for bit, whatever the slice size: group codes by window
width, per-group sorting with lost samples dropped or infinite (and of halved samples),
means and standard deviations, narrow-code bincounts and probe send times."""

from __future__ import annotations

import numpy as np
import pytest

from qos_analysis.populations import _send_times
from qos_analysis.stats import chunked
from qos_analysis.stats.grouped import group_codes, group_codes_by_width, sort_groups


def _whole_mean_std(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of squared deviations per non-empty group over one sample-sized array."""
    mean = np.add.reduceat(values, starts) / counts
    dev = values - np.repeat(mean, counts)
    return np.add.reduceat(dev * dev, starts)


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("seed", range(6))
def test_slices_equal_whole_arrays(monkeypatch: pytest.MonkeyPatch, size: int, seed: int) -> None:
    monkeypatch.setattr(chunked, "CHUNK_ROWS", size)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 4000))
    scope = np.sort(rng.integers(0, 5, size=n)) if seed % 2 else rng.integers(0, 5, size=n)
    t_us = np.cumsum(rng.integers(0, 40_000_000, size=n)) - 10**9
    width = 60_000_000
    got = group_codes_by_width(scope, 5, t_us, width)
    want = group_codes(scope, 5, t_us // width)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
    codes, n_groups = got[0], int(got[0].max()) + 1
    values = rng.random(n) * 0.2
    values[rng.random(n) < 0.1] = np.nan
    for lost in ("exclude", "infinite"):
        sg = sort_groups(codes, values, n_groups, lost=lost)
        v = np.where(np.isnan(values), np.inf, values) if lost == "infinite" else values
        keep = ~np.isnan(v)
        assert np.array_equal(sg.values, v[keep][np.lexsort((v[keep], codes[keep]))])
        assert np.array_equal(sg.counts, np.bincount(codes[keep], minlength=n_groups))
        halved = sort_groups(codes, values, n_groups, lost=lost, divisor=2.0)
        assert np.array_equal(
            halved.values, sort_groups(codes, values / 2.0, n_groups, lost=lost).values
        )
    sg = sort_groups(codes, values, n_groups, lost="exclude")
    n_per, _mean, sd = sg.mean_std()
    nonempty = n_per > 0
    ss = _whole_mean_std(sg.values, sg.starts[nonempty], n_per[nonempty])
    several = n_per[nonempty] >= 2
    want_sd = np.sqrt(ss[several] / (n_per[nonempty][several] - 1))
    assert np.array_equal(sd[nonempty][several], want_sd)
    assert np.all(np.isnan(sd[nonempty][~several]))
    narrow = rng.integers(0, 300, size=n).astype(np.int16)
    assert np.array_equal(chunked.bincount(narrow, 10), np.bincount(narrow, minlength=10))
    send = rng.random(n) * 5
    started = rng.integers(0, 10**15, size=300)
    want_t = (send * 1_000_000 + 0.5).astype(np.int64) + started[narrow]
    assert np.array_equal(_send_times(send, started, narrow.astype(np.int64)), want_t)
