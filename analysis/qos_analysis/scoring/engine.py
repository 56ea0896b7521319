"""score(): a profile × a data set → the verdicts, objective by objective; the verdict
table is a view of them (:func:`~qos_analysis.scoring.verdict.verdicts_frame`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pandas as pd

from qos.errors import ProfileError
from qos.profiles import Objective, Profile, get_profile
from qos.units import parse_duration_s
from qos_analysis.arrow_memory import system_memory_pool
from qos_analysis.load import Dataset
from qos_analysis.page_advice import no_hugepage_advice
from qos_analysis.scoring.block import VerdictBlock, blocks_frame, blocks_verdicts
from qos_analysis.scoring.evidence import attach_block_evidence, attach_evidence
from qos_analysis.scoring.objective import score_objective
from qos_analysis.scoring.run import ScoringRun
from qos_analysis.scoring.verdict import Verdict


def score_verdicts(
    data: Dataset,
    profile: Profile | str,
    *,
    window: str | float | None = None,
    params: Mapping[str, str | float] | None = None,
    confidence: float | None = None,
) -> list[Verdict]:
    """The typed verdicts of ``profile`` on ``data``, one per (objective, scope, window).

    ``window`` ("1h", seconds, or "all") overrides the profile's default window for
    objectives that do not fix their own; ``params`` supplies profile parameters such as
    contracted speeds (strings with units).
    """
    with system_memory_pool():
        blocks = _score_blocks(data, profile, window, params, confidence)
    return attach_evidence(data, blocks_verdicts(blocks))


def _score_blocks(
    data: Dataset,
    profile: Profile | str,
    window: str | float | None,
    params: Mapping[str, str | float] | None,
    confidence: float | None,
) -> list[VerdictBlock]:
    """Each objective's verdicts, column-wise, in the profile's order."""
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
    run = ScoringRun(data, prof, param_values, confidence)
    with no_hugepage_advice():
        return [
            score_objective(run, objective, _objective_window(prof, objective, override))
            for objective in prof.objectives
        ]


def score(
    data: Dataset,
    profile: Profile | str,
    *,
    window: str | float | None = None,
    params: Mapping[str, str | float] | None = None,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Verdicts of ``profile`` on ``data`` as the verdict table (columns
    :data:`~qos_analysis.scoring.verdict.VERDICT_COLUMNS`); arguments as
    :func:`score_verdicts`."""
    # Arrow buffers (text columns of the table, pandas' Arrow-backed strings) come from
    # the C library's allocator, as while loading (qos_analysis.arrow_memory).
    with system_memory_pool():
        blocks = _score_blocks(data, profile, window, params, confidence)
        return blocks_frame([attach_block_evidence(data, block) for block in blocks])


def _parse_window_arg(window: str | float | None) -> float | Literal["profile"] | None:
    if window is None:
        return "profile"
    if window == "all":
        return None
    seconds = float(window) if isinstance(window, int | float) else parse_duration_s(window)
    if seconds <= 0:
        raise ProfileError("window must be positive or 'all'")
    return seconds


def _objective_window(
    prof: Profile, objective: Objective, override: float | Literal["profile"] | None
) -> float | None:
    if objective.window_all:
        return None
    if objective.window_s is not None:
        return objective.window_s
    if override == "profile":
        return prof.window_s
    return override
