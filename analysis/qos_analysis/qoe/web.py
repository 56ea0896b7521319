"""Web-browsing QoE: G.1010 page-time bands and the G.1030 log model — UNVERIFIED.

docs/methods.md §5: G.1030's web-browsing opinion model maps session time T to MOS
logarithmically, MOS(T) = 5 − 4·ln(T/Tmin)/ln(Tmax/Tmin) clipped to [1, 5]; its constants
(Tmin, Tmax per context) are NOT verified [P*, low confidence] — callers must supply them
and every result says ``verified=False``.  G.1010 page-time targets (§2): preferred < 2 s,
acceptable < 4 s per page [P*].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G1010_PAGE_PREFERRED_S = 2.0  # [P*] docs/methods.md §2, §5
G1010_PAGE_ACCEPTABLE_S = 4.0  # [P*]


@dataclass(frozen=True, slots=True)
class WebScore:
    value: float | str
    model: str
    verified: bool = False


def g1030_web_mos(session_time_s: float, t_min_s: float, t_max_s: float) -> WebScore:
    """G.1030-style log model; ``t_min_s``/``t_max_s`` must come from G.1030 Appendix I."""
    if not 0 < t_min_s < t_max_s:
        raise ValueError("need 0 < Tmin < Tmax")
    if not math.isfinite(session_time_s) or session_time_s < 0:
        raise ValueError("session time must be a finite, non-negative number")
    if session_time_s <= t_min_s:
        mos = 5.0
    elif session_time_s >= t_max_s:
        mos = 1.0
    else:
        mos = 5 - 4 * math.log(session_time_s / t_min_s) / math.log(t_max_s / t_min_s)
    return WebScore(mos, "g1030-log (constants unverified)")


def g1010_page_band(page_time_s: float) -> WebScore:
    """ "preferred" (< 2 s), "acceptable" (< 4 s) or "unacceptable" per G.1010 [P*]."""
    if math.isnan(page_time_s):
        return WebScore("undefined", "g1010-page-time")
    if page_time_s < G1010_PAGE_PREFERRED_S:
        band = "preferred"
    elif page_time_s < G1010_PAGE_ACCEPTABLE_S:
        band = "acceptable"
    else:
        band = "unacceptable"
    return WebScore(band, "g1010-page-time")
