"""Groups decided by a confidence bound alone, found for all groups at once
(``bound_outcomes``) and worded by ``bound_verdict``, get what ``decide`` gives them, and
every other group is left to ``decide``."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from qos.profiles import get_profile
from qos_analysis.scoring.decide import (
    BY_BOUND_OPEN,
    GroupResult,
    Rule,
    bound_outcomes,
    bound_verdict,
    decide,
)
from qos_analysis.scoring.verdict import Outcome


@pytest.mark.parametrize(("profile", "index"), [("y1541/class0", 0), ("fcc-caf", 0)])
@pytest.mark.parametrize("seed", range(4))
def test_bound_outcomes_agree_with_decide(profile: str, index: int, seed: int) -> None:
    obj = get_profile(profile).objectives[index]
    rng = np.random.default_rng(seed)
    size = 400
    limit = 0.1
    n = rng.integers(0, 2 * max(obj.min_samples, 5), size=size)
    value = rng.random(size) * 0.2
    value[rng.random(size) < 0.05] = np.nan
    half = rng.random(size) * 0.05
    lower, upper = value - half, value + half
    upper[rng.random(size) < 0.05] = np.inf
    lower[rng.random(size) < 0.05] = np.nan
    rule = Rule(limit, Fraction(1, 10), "s", "confidence", False, 0.95)
    campaign = [3, 7]
    codes = bound_outcomes(obj, rule, n, value, lower, upper, campaign).tolist()
    decided = 0
    for g in range(size):
        problems = ["late start"] if g in campaign else None
        group = GroupResult(int(n[g]), float(value[g]), float(lower[g]), float(upper[g]))
        want = decide(obj, group, rule, problems)
        if codes[g] == BY_BOUND_OPEN:
            assert g in campaign or not _bound_reason(want[1])
            continue
        decided += 1
        assert want[0] in (Outcome.PASS, Outcome.FAIL)
        assert bound_verdict(obj.comparison, codes[g], lower[g], upper[g], rule) == want
    assert decided > 0
    literal = Rule(limit, Fraction(1, 10), "s", "literal", False, 0.95)
    assert not bound_outcomes(obj, literal, n, value, lower, upper).any()


def _bound_reason(reason: str) -> bool:
    return reason.startswith(("upper bound ", "lower bound ")) and " limit " in reason
