"""score(): a profile × a data set → the verdict table, objective by objective."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from qos.errors import ProfileError
from qos.profiles import Objective, Profile, get_profile
from qos.units import parse_duration_s
from qos_analysis.load import Dataset
from qos_analysis.populations import (
    Population,
    directional_population,
    probe_population,
    test_population,
)
from qos_analysis.scoring.objective import score_objective
from qos_analysis.scoring.rows import VERDICT_COLUMNS


def score(
    data: Dataset,
    profile: Profile | str,
    *,
    window: str | float | None = None,
    params: Mapping[str, str | float] | None = None,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Verdicts of ``profile`` on ``data`` (columns :data:`VERDICT_COLUMNS`).

    ``window`` ("1h", seconds, or "all") overrides the profile's default window for
    objectives that do not fix their own; ``params`` supplies profile parameters such as
    contracted speeds (strings with units).
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    if params:
        prof = prof.with_parameters(params)
    param_values = prof.parameter_values()
    for objective in prof.objectives:  # fail fast on missing parameters, before any work
        objective.limit.resolve(param_values)
        if objective.threshold is not None:
            objective.threshold.resolve(param_values)
    if confidence is not None and not 0 < confidence < 1:
        raise ProfileError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    override = _parse_window_arg(window)
    frames: list[pd.DataFrame] = []
    cache: dict[tuple[Any, ...], Any] = {}
    # Populations stay alive for the whole call: the grouping cache is keyed by their id.
    populations: dict[str, Population | None] = {}
    for objective in prof.objectives:
        conf = confidence or objective.confidence or prof.confidence
        window_s = _objective_window(prof, objective, override)
        per_test = objective.spec.per_test is not None
        source = objective.metric if per_test else "probes"
        if source not in populations:
            populations[source] = (
                test_population(data, objective.metric, failed_tests=prof.failed_tests)
                if per_test
                else probe_population(data, failed_tests=prof.failed_tests)
            )
        pop = populations[source]
        assert pop is not None
        if source == "probes" and objective.spec.one_way:
            # Measured one-way data (STAMP, synchronised clocks): score each direction.
            if "directional" not in populations:
                populations["directional"] = directional_population(pop)
            directional = populations["directional"]
            if directional is not None:
                pop = directional
        frames.append(score_objective(prof, objective, pop, window_s, conf, param_values, cache))
    frames = [f for f in frames if not f.empty]
    frame = (
        pd.concat(frames, ignore_index=True)[list(VERDICT_COLUMNS)]
        if frames
        else pd.DataFrame(columns=list(VERDICT_COLUMNS))
    )
    frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    frame["window_end"] = pd.to_datetime(frame["window_end"], utc=True)
    return frame


def _parse_window_arg(window: str | float | None) -> float | str | None:
    if window is None:
        return "profile"
    if window == "all":
        return None
    seconds = float(window) if isinstance(window, int | float) else parse_duration_s(window)
    if seconds <= 0:
        raise ProfileError("window must be positive or 'all'")
    return seconds


def _objective_window(
    prof: Profile, objective: Objective, override: float | str | None
) -> float | None:
    if objective.window_all:
        return None
    if objective.window_s is not None:
        return objective.window_s
    if override != "profile":
        return override  # type: ignore[return-value]
    return prof.window_s
