"""Group codes and per-group sorting take rows in runs of one group (a test's probes in one
window) as a shortcut; with runs, without runs and with negative window numbers they give
what a hash of the pairs and a lexicographic sort give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qos_analysis.stats.grouped import group_codes, sort_groups


@pytest.mark.parametrize("seed", range(40))
def test_runs_shortcut_equals_factorize_and_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_scopes = int(rng.integers(1, 3000)), int(rng.integers(1, 20))
    runs = rng.integers(1, 300, size=n)
    scope = rng.integers(0, n_scopes, size=n)
    window = rng.integers(-5, 60, size=n) if seed % 3 else rng.integers(0, 10**7, size=n)
    if seed % 2:
        scope, window = np.repeat(scope, runs)[:n], np.repeat(window, runs)[:n]
    codes, g_scope, g_window = group_codes(scope, n_scopes, window)
    want, uniques = pd.factorize(scope * 10**8 + (window + 10), sort=True)
    assert np.array_equal(codes, want)
    assert np.array_equal(g_scope, uniques // 10**8)
    assert np.array_equal(g_window, uniques % 10**8 - 10)
    values = rng.random(n)
    values[rng.random(n) < 0.05] = np.nan
    n_groups = int(codes.max()) + 1
    for lost in ("exclude", "infinite"):
        got = sort_groups(codes, values, n_groups, lost=lost)
        v = np.where(np.isnan(values), np.inf, values) if lost == "infinite" else values
        keep = ~np.isnan(v)
        assert np.array_equal(got.values, v[keep][np.lexsort((v[keep], codes[keep]))])
        assert np.array_equal(got.counts, np.bincount(codes[keep], minlength=n_groups))
