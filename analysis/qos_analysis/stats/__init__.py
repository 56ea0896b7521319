"""Statistics for compliance decisions.

Modules: :mod:`.quantiles` (RFC 2330 exact-rank percentiles, RFC 7679 median, one-sided
order-statistic bounds), :mod:`.quantile_ci` (two-sided distribution-free quantile
intervals), :mod:`.grouped` (the same, vectorised over many windows), :mod:`.proportions`
(Wilson, Wilson with continuity correction, Clopper–Pearson), :mod:`.delay` (IPDV
pseudo-range, PDV, IPDV, RFC 3550 jitter), :mod:`.loss` (RFC 3357, RFC 3611 burst/gap,
Gilbert estimation from a trace), :mod:`.gilbert` (Gilbert model figures from (p, r)),
:mod:`.windows` (the windowing engine), :mod:`.timebase`, :mod:`.tcp` (RFC 6349).
Methods and sources are summarised in ``docs/stats.md`` and ``docs/methods.md`` §6, §9.
"""

from qos_analysis.stats.gilbert import (
    GilbertModel,
    gilbert_burst_ratio,
    gilbert_loss_ratio,
    gilbert_mean_burst_length,
    gilbert_model_from_trace,
)
from qos_analysis.stats.loss import GilbertEstimate, gilbert_estimate
from qos_analysis.stats.proportions import clopper_pearson, wilson, wilson_cc
from qos_analysis.stats.quantile_ci import (
    QuantileInterval,
    min_n_two_sided,
    order_statistic_coverage,
    quantile_ci,
    quantile_ci_ranks,
)
from qos_analysis.stats.quantiles import median_rfc7679, percentile, quantile_bounds

__all__ = [
    "GilbertEstimate",
    "GilbertModel",
    "QuantileInterval",
    "clopper_pearson",
    "gilbert_burst_ratio",
    "gilbert_estimate",
    "gilbert_loss_ratio",
    "gilbert_mean_burst_length",
    "gilbert_model_from_trace",
    "median_rfc7679",
    "min_n_two_sided",
    "order_statistic_coverage",
    "percentile",
    "quantile_bounds",
    "quantile_ci",
    "quantile_ci_ranks",
    "wilson",
    "wilson_cc",
]
