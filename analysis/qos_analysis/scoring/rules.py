"""Which samples an objective scores: round-trip vs one-way data and the named rule
(rtt-half, refuse, measured per direction) applied to them."""

from __future__ import annotations

import numpy as np

from qos.profiles import Objective, Profile
from qos_analysis.populations import Population

RULE_RTT_HALF = "rtt-half: one-way ≈ RTT/2 (assumes symmetric paths)"
RULE_RT_LOSS = "round-trip loss counted against the one-way objective (both directions)"
RULE_DIRECTIONAL = "measured one-way, each direction scored (STAMP, synchronised clocks)"


def values_for(
    prof: Profile, obj: Objective, pop: Population
) -> tuple[dict[str, np.ndarray], str, bool, bool]:
    """Sample arrays for an objective and the one-way rule applied (name, approximate)."""
    if obj.spec.source != "probes":
        return {"value": pop.values["value"]}, "", False, False
    if "direction_delay" in pop.values:  # measured one-way, per direction
        if obj.metric == "loss_ratio":
            return {"delay": pop.values["direction_lost"]}, RULE_DIRECTIONAL, False, False
        return (
            {"delay": pop.values["direction_delay"], "send": pop.values["send_offset_s"]},
            RULE_DIRECTIONAL,
            False,
            False,
        )
    rtt = pop.values["rtt_s"]
    if obj.metric == "rtt":
        return {"delay": rtt}, "", False, False
    if obj.metric == "loss_ratio":
        return {"delay": rtt}, RULE_RT_LOSS, True, False
    # One-way metrics on round-trip data: the named rule.
    rule = obj.one_way_rule or prof.one_way_rule
    if rule == "refuse":
        return {}, "refuse", True, True
    derived = pop.derived
    if "rtt_half" not in derived:
        derived["rtt_half"] = rtt / 2.0
    send = pop.values["send_offset_s"]
    return {"delay": derived["rtt_half"], "send": send}, RULE_RTT_HALF, True, False
