"""QoE models: G.107 E-model, VoIP helper, labelled approximations, web bands.

Formulas and sources: docs/methods.md §4 and §5.
"""

from qos_analysis.qoe.emodel import (
    DELAY_SENSITIVITY,
    EModelParams,
    EModelResult,
    emodel,
    mos_to_r,
    r_to_mos,
    satisfaction_band,
)
from qos_analysis.qoe.voip import (
    CODECS,
    ApproximateScore,
    cole_rosenbluth,
    effective_latency_score,
    voip_quality,
)
from qos_analysis.qoe.web import g1010_page_band, g1030_web_mos

__all__ = [
    "CODECS",
    "DELAY_SENSITIVITY",
    "ApproximateScore",
    "EModelParams",
    "EModelResult",
    "cole_rosenbluth",
    "effective_latency_score",
    "emodel",
    "g1010_page_band",
    "g1030_web_mos",
    "mos_to_r",
    "r_to_mos",
    "satisfaction_band",
    "voip_quality",
]
