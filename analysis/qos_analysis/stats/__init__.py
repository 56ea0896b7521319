"""Statistics for compliance decisions (docs/methods.md §1, §6, §9).

Modules: :mod:`.quantiles` (RFC 2330 exact-rank percentiles, order-statistic bounds),
:mod:`.grouped` (the same, vectorised over many windows), :mod:`.proportions` (Wilson,
Clopper–Pearson), :mod:`.delay` (IPDV pseudo-range, PDV, IPDV, RFC 3550 jitter),
:mod:`.loss` (RFC 3357, RFC 3611 burst/gap, Gilbert–Elliott BurstR), :mod:`.windows`
(the windowing engine), :mod:`.timebase`, :mod:`.tcp` (RFC 6349).
"""
