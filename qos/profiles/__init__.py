"""Threshold profiles: the model and the TOML loader/validator (docs/architecture.md §4).

A profile turns a Recommendation or a regulator's rule into data: a list of *objectives*,
each naming a metric from :data:`METRICS`, a statistic, a limit with its unit, the minimum
number of samples, and where the number comes from.  No code per profile.  Standard
library only, so the agent may read profiles too.

File layout (``configs/profiles/<name>.toml``)::

    schema_version = 1
    title = "..."
    [source]                      # mandatory: document, edition, clause, verified
    [defaults]                    # window, confidence, one_way_rule, failed_tests, decision
    [periods.<name>]              # local-time periods (peak hours), start/end/days
    [parameters.<name>]           # user-supplied values (contract speeds), dimension/value
    [campaign]                    # regulator campaign rules (BNetzA: 3 days × 10 tests ...)
    [[objectives]]                # either objectives ...
    [variants.<name>]             # ... or named variants, each with [[variants.<name>.objectives]]

A file without variants defines the profile ``<name>``; one with variants defines
``<name>/<variant>`` for every variant (``y1541/class0`` …).  Unknown keys fail with a
did-you-mean hint, unknown metrics/units/statistics are refused, and a file written for a
newer ``schema_version`` is refused (:class:`~qos.errors.ProfileError`).

``verified = true`` is allowed only for values that docs/methods.md tags [P] or [D]
(docs/methods.md §0.2); every shipped ITU/regulator value is [P*] or [S] today.

Modules, one job each: :mod:`~qos.profiles.catalogue` (metrics, statistics, option values),
:mod:`~qos.profiles.model` (frozen dataclasses), :mod:`~qos.profiles.quantities` (limits
in base units), :mod:`~qos.profiles.reader` (typed reads with file/key errors),
:mod:`~qos.profiles.sections` (the non-objective tables), :mod:`~qos.profiles.objectives`
(``[[objectives]]``), :mod:`~qos.profiles.loader` (a file → profiles) and
:mod:`~qos.profiles.discovery` (profile directories, lookup by id).  Everything public is
re-exported here: ``from qos.profiles import get_profile`` stays the entry point.
"""

from qos.profiles.catalogue import (
    COMPARISONS,
    DECISIONS,
    DIMENSIONS,
    FAILED_TESTS,
    METRICS,
    ONE_WAY_RULES,
    PROFILE_SCHEMA_VERSION,
    STATISTICS,
    WEEKDAYS,
    MetricSpec,
    PerTestSource,
    register_metric,
    registered_metric,
    unregister_metric,
)
from qos.profiles.discovery import available_profiles, get_profile, profile_dirs
from qos.profiles.loader import load_profile_file, parse_profiles
from qos.profiles.model import (
    Campaign,
    Limit,
    Objective,
    Parameter,
    Period,
    Profile,
    Source,
)

__all__ = [
    "COMPARISONS",
    "DECISIONS",
    "DIMENSIONS",
    "FAILED_TESTS",
    "METRICS",
    "ONE_WAY_RULES",
    "PROFILE_SCHEMA_VERSION",
    "STATISTICS",
    "WEEKDAYS",
    "Campaign",
    "Limit",
    "MetricSpec",
    "Objective",
    "Parameter",
    "PerTestSource",
    "Period",
    "Profile",
    "Source",
    "available_profiles",
    "get_profile",
    "load_profile_file",
    "parse_profiles",
    "profile_dirs",
    "register_metric",
    "registered_metric",
    "unregister_metric",
]
