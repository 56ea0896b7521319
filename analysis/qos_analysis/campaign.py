"""Regulator measurement campaigns: does a set of tests follow the rules?

BNetzA's fixed-network procedure (docs/methods.md §8.2) is a legal test only when the
campaign itself is valid: 30 measurements = 10 on each of 3 calendar days, at least one
full calendar day between measurement days, all days within 14 days, at least 5 minutes
between tests and at least 3 hours between the 5th and 6th test of a day.  Days are the
agent's local calendar days.  A campaign that breaks a rule makes the verdict
``inconclusive`` (never a pass), with the breaches named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qos.profiles import Campaign
from qos_analysis.populations import Population
from qos_analysis.stats.timebase import US_PER_S, local_day


def campaign_problems(
    campaign: Campaign | None,
    codes: np.ndarray,
    n_groups: int,
    pop: Population,
    sel: np.ndarray,
    local_us: np.ndarray,
) -> dict[int, list[str]]:
    """Per group: how the tests break the campaign rules (docs/methods.md §8.2)."""
    if campaign is None:
        return {}
    out: dict[int, list[str]] = {}
    frame = pd.DataFrame(
        {"g": codes, "m": pop.measurement[sel], "t": pop.t_us[sel], "local": local_us[sel]}
    ).drop_duplicates(["g", "m"])
    for g, tests in frame.groupby("g"):
        problems = check_campaign(campaign, tests["t"].to_numpy(), tests["local"].to_numpy())
        if problems:
            out[int(g)] = problems
    return out


def check_campaign(campaign: Campaign, t_us: np.ndarray, local_us: np.ndarray) -> list[str]:
    """Rule breaches of one campaign's tests (start times, µs) — empty list when valid."""
    problems: list[str] = []
    order = np.argsort(t_us, kind="stable")
    t_us, local_us = t_us[order], local_us[order]
    days = local_day(local_us)
    unique_days, per_day = np.unique(days, return_counts=True)
    if len(unique_days) != campaign.days:
        problems.append(f"tests on {len(unique_days)} day(s), {campaign.days} required")
    bad = [int(c) for c in per_day if c != campaign.tests_per_day]
    if bad:
        problems.append(
            f"{campaign.tests_per_day} tests per day required, found "
            f"{', '.join(str(int(c)) for c in per_day)}"
        )
    if campaign.min_free_days_between and len(unique_days) > 1:
        gaps = np.diff(unique_days) - 1
        if np.any(gaps < campaign.min_free_days_between):
            problems.append(
                f"measurement days need ≥ {campaign.min_free_days_between} free "
                "calendar day(s) between them"
            )
    if (
        campaign.max_span_days
        and len(unique_days)
        and unique_days[-1] - unique_days[0] + 1 > campaign.max_span_days
    ):
        problems.append(f"all days must lie within {campaign.max_span_days} calendar days")
    if campaign.min_test_spacing_s and len(t_us) > 1:
        spacing = np.diff(t_us) / US_PER_S
        if np.any(spacing < campaign.min_test_spacing_s):
            problems.append(f"tests closer than {campaign.min_test_spacing_s:g} s apart")
    if campaign.pause_after_test and campaign.pause_s:
        k = campaign.pause_after_test
        for day in unique_days:
            times = t_us[days == day]
            if len(times) > k and (times[k] - times[k - 1]) / US_PER_S < campaign.pause_s:
                problems.append(
                    f"pause between test {k} and {k + 1} of a day must be ≥ "
                    f"{campaign.pause_s / 3600:g} h"
                )
                break
    return problems
