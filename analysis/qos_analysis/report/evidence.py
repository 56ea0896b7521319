"""Consumer evidence for contract profiles: is the campaign valid, what is still missing,
how does each legal criterion come out, and a paragraph for a complaint.

A profile with contracted speeds (rate parameters with values) gets this section.  The
campaign rules are the profile's own ``[campaign]``; a profile without one (a personal
contract file) is checked against the BNetzA fixed-network campaign (Allgemeinverfügung of
13 Dec 2021: 30 tests, 10 on each of 3 calendar days, ≥ 1 free day between measurement days,
all within 14 days, ≥ 5 min between tests, ≥ 3 h between the 5th and 6th test of a day),
the procedure whose criteria such contracts mirror.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from qos.profiles import Campaign, Profile, get_profile
from qos_analysis.campaign import check_campaign
from qos_analysis.report.fmt import comparison, number
from qos_analysis.report.model import Criterion, Evidence, SummaryRow
from qos_analysis.report.scopes import SpeedScope
from qos_analysis.report.text import clean
from qos_analysis.stats.timebase import US_PER_DAY

REFERENCE_PROFILE = "bnetza-fixed"
_ORDINAL = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")


def applies(profile: Profile) -> bool:
    return any(p.dimension == "rate" and p.value is not None for p in profile.parameters.values())


def reference_campaign(profile: Profile) -> tuple[Campaign | None, str]:
    if profile.campaign is not None:
        return profile.campaign, "the profile's campaign rules"
    try:
        ref = get_profile(REFERENCE_PROFILE)
    except Exception:  # a stripped installation without the built-in profiles
        return None, ""
    return ref.campaign, f"the campaign rules of {ref.source.document}"


def campaign_rules(c: Campaign) -> tuple[str, ...]:
    rules = [
        f"{c.days * c.tests_per_day} tests: {c.tests_per_day} on each of {c.days} calendar days"
    ]
    if c.min_free_days_between:
        rules.append(
            f"at least {c.min_free_days_between} free calendar day(s) between measurement days"
        )
    if c.max_span_days:
        rules.append(f"all measurement days within {c.max_span_days} calendar days")
    if c.min_test_spacing_s:
        rules.append(f"at least {c.min_test_spacing_s / 60:g} min between tests")
    if c.pause_after_test and c.pause_s:
        rules.append(
            f"at least {c.pause_s / 3600:g} h between test {c.pause_after_test} and "
            f"{c.pause_after_test + 1} of a day"
        )
    return tuple(rules)


def missing_tests(c: Campaign, local_us: np.ndarray) -> tuple[str, ...]:
    """Exactly which tests a campaign still needs, in local calendar days."""
    days, counts = np.unique(local_us // US_PER_DAY, return_counts=True)
    out = []
    for i, (day, n) in enumerate(zip(days[: c.days], counts[: c.days], strict=True)):
        if n < c.tests_per_day:
            out.append(f"{c.tests_per_day - n} more test(s) on day {i + 1} ({_date(day)})")
    if len(days) < c.days:
        last = int(days[-1]) if len(days) else None
        for k in range(len(days), c.days):
            when = f"a {_ORDINAL[k] if k < len(_ORDINAL) else str(k + 1) + 'th'} day"
            if last is not None:
                earliest = (
                    last
                    + c.min_free_days_between
                    + 1
                    + (k - len(days)) * (c.min_free_days_between + 1)
                )
                when += f", on or after {_date(earliest)}"
                if c.max_span_days:
                    when += f" and by {_date(int(days[0]) + c.max_span_days - 1)}"
            out.append(f"{c.tests_per_day} tests on {when}")
    return tuple(out)


def _date(day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(day))).strftime("%a %d %b %Y")


def build_evidence(
    profile: Profile, rows: Sequence[SummaryRow], speeds: Sequence[SpeedScope]
) -> Evidence | None:
    if not applies(profile):
        return None
    campaign, origin = reference_campaign(profile)
    problems: list[str] = []
    missing: list[str] = []
    for scope in speeds:
        if campaign is None:
            break
        label = scope.direction
        problems += [f"{label}: {p}" for p in check_campaign(campaign, scope.t_us, scope.local_us)]
        missing += [f"{label}: {m}" for m in missing_tests(campaign, np.sort(scope.local_us))]
    if campaign is not None:
        tested = {s.direction for s in speeds}
        for direction in _contracted_directions(profile):
            if direction not in tested:
                problems.append(f"{direction}: no {direction} tests in the data")
                missing.append(f"{direction}: a whole campaign, {campaign_rules(campaign)[0]}")
    criteria = tuple(
        Criterion(
            objective=r.objective,
            wording=wording(profile, r.objective),
            outcome=r.outcome,
            value=number(r.decisive.value, r.decisive.unit),
        )
        for r in rows
        if r.decisive.metric in ("download_speed", "upload_speed")
    )
    rules = campaign_rules(campaign) if campaign else ()
    return Evidence(
        campaign_origin=clean(origin),
        campaign_rules=tuple(clean(r) for r in rules),
        campaign_problems=tuple(clean(p) for p in problems),
        missing=tuple(clean(m) for m in missing),
        criteria=criteria,
        paragraph=clean(_paragraph(profile, criteria, speeds, problems)),
    )


def _contracted_directions(profile: Profile) -> list[str]:
    metrics = {o.metric for o in profile.objectives}
    return [d for d in ("download", "upload") if f"{d}_speed" in metrics]


def wording(profile: Profile, objective_id: str) -> str:
    """The rule as the profile words it (its title), else generated from its definition."""
    obj = next((o for o in profile.objectives if o.id == objective_id), None)
    if obj is None:
        return ""
    if obj.title:
        return clean(f"{obj.title} ({profile.source.document}, {obj.clause})")
    values = profile.parameter_values()
    unit = {"rate": "bit/s", "duration": "s", "ratio": "ratio"}.get(obj.spec.dimension, "")
    metric = obj.metric.replace("_", " ")
    thr = "" if obj.threshold is None else number(obj.threshold.resolve(values), unit)
    subject = {
        "share": f"share of {metric} tests at or above {thr}",
        "days_meeting": f"days with at least one {metric} test at or above {thr}",
        "days_not_meeting": f"days with at least one {metric} test below {thr}",
    }.get(obj.statistic, f"{obj.statistic.replace('_', ' ')} of {metric}")
    limit_unit = {"share": "ratio"}.get(obj.statistic, "")
    limit_unit = "count" if obj.statistic.startswith("days_") else (limit_unit or unit)
    text = f"{subject} {comparison(obj.comparison)} {number(obj.limit.resolve(values), limit_unit)}"
    return clean(f"{text} ({profile.source.document}, {obj.clause})")


def _paragraph(
    profile: Profile,
    criteria: Sequence[Criterion],
    speeds: Sequence[SpeedScope],
    problems: list[str],
) -> str:
    n = sum(s.goodput_bps.size for s in speeds)
    if n == 0:
        return (
            "I have not yet measured the speed of my connection; this report lists the "
            "measurements still needed."
        )
    failed = [c for c in criteria if c.outcome == "fail"]
    first = min(int(s.t_us[0]) for s in speeds) // 1_000_000
    last = max(int(s.t_us[-1]) for s in speeds) // 1_000_000
    span = (
        f"between {datetime.fromtimestamp(first, UTC):%d %b %Y} and "
        f"{datetime.fromtimestamp(last, UTC):%d %b %Y}"
    )
    text = f"I measured the speed of my connection {n} times {span} with qos-toolkit. "
    if failed:
        text += (
            f"The measurements do not meet {len(failed)} of the {len(criteria)} contractual "
            f"criteria checked ({', '.join(c.objective for c in failed)}), judged by "
            f"{profile.source.document}. "
        )
    else:
        text += f"None of the {len(criteria)} criteria checked is shown to be violated. "
    if problems:
        text += (
            "The campaign does not yet follow every rule of the official procedure, so the "
            "results are an indication, not formal proof."
        )
    else:
        text += "The campaign follows the rules of the official procedure."
    return text
