"""Threshold profiles: every shipped profile loads; one invalid fixture per validation rule.

docs/architecture.md §4: unknown keys fail with a did-you-mean hint, unknown metric/unit and a
newer schema are refused.  docs/methods.md §0.2: ``verified = true`` only for [P]/[D] values.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from qos.errors import ConfigError, ProfileError
from qos.profiles import (
    METRICS,
    PROFILE_SCHEMA_VERSION,
    available_profiles,
    get_profile,
    load_profile_file,
    parse_profiles,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "configs" / "profiles"
INVALID = ROOT / "tests" / "data" / "profiles"

#: fixture → (key named in the error, fragment of the message)
RULES: dict[str, tuple[str | None, str]] = {
    "syntax": (None, "not valid TOML"),
    "missing-schema-version": ("schema_version", "missing required key"),
    "newer-schema": ("schema_version", "newer than this qos-toolkit supports"),
    "schema-version-type": ("schema_version", "must be a positive integer"),
    "unknown-top-key": ("descripton", "did you mean 'description'?"),
    "missing-source": ("source", "missing required table [source]"),
    "source-missing-clause": ("source.clause", "missing required key"),
    "verified-not-bool": ("source.verified", "must be true or false"),
    "unknown-source-key": ("source.editon", "did you mean 'edition'?"),
    "unknown-metric": ("objectives.delay.metric", "unknown metric 'rtt_mean'"),
    "unknown-unit": ("objectives.delay.limit", "unknown unit 'parsecs'"),
    "wrong-dimension": ("objectives.delay.limit", "this limit is a duration"),
    "unit-missing": ("objectives.delay.limit", "needs a unit"),
    "unknown-statistic": ("objectives.delay.statistic", "unknown statistic 'average'"),
    "statistic-not-for-metric": ("objectives.delay.statistic", "is not defined for metric"),
    "percentile-missing": ("objectives.delay.percentile", "needs a 'percentile'"),
    "percentile-range": ("objectives.delay.percentile", "percentile must lie in"),
    "min-samples-missing": ("objectives.delay.min_samples", "missing required key"),
    "min-samples-zero": ("objectives.delay.min_samples", "integer ≥ 1"),
    "duplicate-objective": ("objectives", "duplicate objective id 'delay'"),
    "unknown-objective-key": ("min_sample", "did you mean 'min_samples'?"),
    "missing-limit": ("objectives.delay.limit", "missing required key"),
    "unknown-parameter": ("limit.parameter", "did you mean 'latency'?"),
    "parameter-dimension": ("objectives.delay.limit", "parameter 'speed' is a rate"),
    "parameter-value-unit": ("parameters.speed.value", "unknown unit 'furlongs'"),
    "unknown-period": ("objectives.delay.period", "did you mean 'peak'?"),
    "period-time": ("periods.peak.start", "invalid time '25:00'"),
    "unknown-weekday": ("periods.peak.days", "did you mean 'mon'?"),
    "window": ("defaults.window", "cannot parse duration 'soon'"),
    "confidence": ("defaults.confidence", "strictly between 0 and 1"),
    "bad-choice": ("defaults.decision", "invalid value 'maybe'"),
    "share-without-threshold": ("objectives.delay.threshold", "needs a per-sample"),
    "threshold-not-applicable": ("objectives.delay.threshold", "only applies to"),
    "no-objectives": ("objectives", "needs [[objectives]] or [variants"),
    "objectives-and-variants": ("objectives", "has both"),
    "campaign-key": ("campaign.pause_after", "did you mean 'pause_after_test'?"),
    "campaign-missing-days": ("campaign.days", "missing required key"),
    "unknown-variant-key": ("variants.a.titel", "did you mean 'title'?"),
    "limit-factor": ("limit.factor", "positive number"),
    "tariff-currency": ("tariff.currency", "is not an ISO 4217 code"),
    "tariff-price": ("tariff.price_per_month", "must be a positive amount"),
    "tariff-advertised": ("tariff.advertised_download", "no parameter 'download_maxx'"),
}


def test_every_invalid_fixture_has_a_rule_and_vice_versa() -> None:
    files = {
        p.name.removeprefix("invalid-").removesuffix(".toml")
        for p in INVALID.glob("invalid-*.toml")
    }
    assert files == set(RULES)


@pytest.mark.parametrize("name", sorted(RULES))
def test_invalid_fixture_is_refused_with_file_key_and_reason(name: str) -> None:
    path = INVALID / f"invalid-{name}.toml"
    key, fragment = RULES[name]
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    message = str(info.value)
    assert str(path) in message  # the file is named
    assert fragment in message
    if key is not None:
        assert key in message
    assert isinstance(info.value, ConfigError)


def test_every_shipped_profile_loads() -> None:
    files = sorted(SHIPPED.glob("*.toml"))
    names = {f.name for f in files}
    for expected in (
        "y1541.toml",
        "g1010.toml",
        "g114.toml",
        "trai.toml",
        "fcc-caf.toml",
        "bnetza-fixed.toml",
        "contract.example.toml",
    ):
        assert expected in names
    total = 0
    for file in files:
        profiles = load_profile_file(file)
        assert profiles
        for profile in profiles.values():
            total += 1
            assert profile.schema_version == PROFILE_SCHEMA_VERSION
            assert profile.source.document and profile.source.clause
            for objective in profile.objectives:
                assert objective.metric in METRICS
                assert objective.min_samples >= 1
    assert total >= 20


def test_y1541_has_classes_0_to_7_with_the_rfc5976_values() -> None:
    profiles = load_profile_file(SHIPPED / "y1541.toml")
    assert sorted(profiles) == [f"y1541/class{i}" for i in range(8)]
    c0 = {o.id: o for o in profiles["y1541/class0"].objectives}
    assert c0["mean-iptd"].limit.value == pytest.approx(0.100)
    assert c0["ipdv"].limit.value == pytest.approx(0.050)
    assert c0["ipdv"].percentile == Fraction(999, 1000)
    assert c0["iplr"].limit.value == pytest.approx(1e-3)
    c6 = {o.id: o for o in profiles["y1541/class6"].objectives}
    assert c6["iplr"].limit.value == pytest.approx(1e-5)
    assert profiles["y1541/class5"].objectives == ()
    assert profiles["y1541/class1"].window_s == 60.0


def test_nothing_shipped_claims_verified_while_standards_tag_is_p_star_or_s() -> None:
    # docs/methods.md §1.2 [S], §2 [P*], §3 [S], §8.2 [S], §8.3 [P*], §8.5 [S].
    for profile in available_profiles([SHIPPED]).values():
        assert profile.verified is False, profile.id


def test_get_profile_by_id_path_and_variant() -> None:
    assert get_profile("y1541/class0", dirs=[SHIPPED]).id == "y1541/class0"
    assert get_profile(str(SHIPPED / "fcc-caf.toml")).id == "fcc-caf"
    assert get_profile(f"{SHIPPED / 'g114.toml'}#acceptable").id == "g114/acceptable"
    with pytest.raises(ProfileError, match="did you mean 'y1541/class0'"):
        get_profile("y1541/clas0", dirs=[SHIPPED])
    with pytest.raises(ProfileError, match="several profiles"):
        get_profile(str(SHIPPED / "g114.toml"))


def test_parameters_are_required_and_parsed_with_units() -> None:
    profile = get_profile("bnetza-fixed", dirs=[SHIPPED])
    objective = profile.objectives[0]
    assert objective.threshold is not None
    with pytest.raises(ProfileError, match="download_max"):
        objective.threshold.resolve(profile.parameter_values())
    bound = profile.with_parameters({"download_max": "250Mbit/s"})
    values = bound.parameter_values()
    assert objective.threshold.resolve(values) == pytest.approx(0.9 * 250e6)
    with pytest.raises(ProfileError, match="did you mean 'download_max'"):
        profile.with_parameters({"download_mx": "1Mbit/s"})
    with pytest.raises(ProfileError, match="unknown unit"):
        profile.with_parameters({"download_max": "1 parsec"})


def test_percentile_is_exact_fraction() -> None:
    data = {
        "schema_version": 1,
        "title": "t",
        "source": {"document": "d", "edition": "e", "clause": "c", "verified": False},
        "objectives": [
            {
                "id": "p",
                "metric": "rtt",
                "statistic": "percentile",
                "percentile": "99.9%",
                "limit": "10ms",
                "min_samples": 1,
            }
        ],
    }
    profile = parse_profiles(data, name="t")["t"]
    assert profile.objectives[0].percentile == Fraction(999, 1000)


def test_period_wraps_midnight() -> None:
    profile = get_profile("fcc-caf", dirs=[SHIPPED])
    window = profile.periods["test-window"]
    assert window.contains(0, 18 * 60)
    assert window.contains(6, 23 * 60 + 59)
    assert not window.contains(0, 17 * 60 + 59)
    data = {
        "schema_version": 1,
        "title": "t",
        "source": {"document": "d", "edition": "e", "clause": "c", "verified": False},
        "periods": {"night": {"start": "22:00", "end": "02:00", "days": ["fri"]}},
        "objectives": [
            {
                "id": "p",
                "metric": "rtt",
                "statistic": "mean",
                "limit": "10ms",
                "min_samples": 1,
                "period": "night",
            }
        ],
    }
    night = parse_profiles(data, name="t")["t"].periods["night"]
    assert night.contains(4, 23 * 60)  # Friday 23:00
    assert night.contains(5, 60)  # Saturday 01:00 belongs to Friday night
    assert not night.contains(4, 60)  # Friday 01:00 belongs to Thursday night
