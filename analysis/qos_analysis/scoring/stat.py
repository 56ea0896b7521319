"""The per-group result of one objective's statistic, shared by the evaluators."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Stat:
    """Per-group statistic arrays for one objective."""

    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: np.ndarray
    bound_method: str
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    literal_only: bool = False
    # k of a ratio k/n (lost packets, tests meeting a threshold): decided exactly.
    count: np.ndarray | None = None
    # What further samples that would decide such a ratio are called ("loss-free packets").
    favourable: str = ""
    extra_reason: dict[int, str] = field(default_factory=dict)
