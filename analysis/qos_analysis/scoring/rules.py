"""Which samples an objective scores: round-trip vs one-way data and the named rule
(rtt-half, refuse, measured per direction) applied to them, as the metric catalogue says
(``MetricSpec.sample``, ``one_way``, ``round_trip``; docs/methods.md §7.5)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qos.profiles import Objective, Profile
from qos.profiles.catalogue import ROUND_TRIP_HALF, ROUND_TRIP_LOSS
from qos_analysis.populations import Population

RULE_RTT_HALF = "rtt-half: one-way ≈ RTT/2 (assumes symmetric paths)"
RULE_RT_LOSS = "round-trip loss counted against the one-way objective (both directions)"
RULE_DIRECTIONAL = "measured one-way, each direction scored (STAMP, synchronised clocks)"


@dataclass(frozen=True)
class Samples:
    """The per-row sample an objective scores (NaN = lost probe) and the rule applied.

    ``name`` names the population column (or derived series) the values come from; it
    identifies the array in the scoring run's caches.  ``refused``: round-trip data cannot
    stand in for the one-way objective (``one_way_rule = "refuse"``).

    The values are ``source / divisor``: a derived series (RTT/2) is made only when an
    evaluator asks for it row by row (kept in ``cache``, the population's derived series);
    per-group sorting divides its own copy instead (:func:`sort_groups`' ``divisor``).
    """

    name: str
    source: np.ndarray
    send: np.ndarray | None
    rule: str
    approximate: bool
    refused: bool = False
    divisor: float = 1.0
    cache: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def values(self) -> np.ndarray:
        """The samples, one per population row."""
        if self.divisor == 1.0:
            return self.source
        if self.name not in self.cache:
            self.cache[self.name] = self.source / self.divisor
        return self.cache[self.name]


def samples_for(prof: Profile, obj: Objective, pop: Population) -> Samples:
    """The samples of ``obj``'s metric in ``pop`` and the one-way rule applied to them."""
    spec = obj.spec
    if spec.per_test is not None:
        return Samples("value", pop.values["value"], None, "", False)
    send = pop.values.get("send_offset_s")
    if "direction_delay" in pop.values:  # measured one-way, per direction
        name = "direction_lost" if spec.sample == "loss" else "direction_delay"
        return Samples(name, pop.values[name], send, RULE_DIRECTIONAL, False)
    rtt = pop.values["rtt_s"]
    if not spec.one_way:
        return Samples("rtt_s", rtt, send, "", False)
    if spec.round_trip == ROUND_TRIP_LOSS:
        return Samples("rtt_s", rtt, send, RULE_RT_LOSS, True)
    if spec.round_trip != ROUND_TRIP_HALF:
        raise ValueError(f"metric {spec.name}: unknown round-trip rule {spec.round_trip!r}")
    # One-way metrics on round-trip data: the named rule.
    rule = obj.one_way_rule or prof.one_way_rule
    if rule == "refuse":
        return Samples("", np.empty(0), None, "refuse", True, refused=True)
    return Samples("rtt_half", rtt, send, RULE_RTT_HALF, True, divisor=2.0, cache=pop.derived)
