"""Evidence in the reasons of failed verdicts: what in the data made them fail.

Some metrics fail on events a person must be able to quote (a manipulated integrity test:
which header, which DNS answer, which certificate).  :data:`EVIDENCE` maps such a metric to
a function giving the evidence lines for one failed verdict; :func:`attach_evidence` appends
them to the verdict's reason.  Adding evidence for a metric is one :func:`register_evidence`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import pandas as pd

from qos_analysis.integrity import evidence_lines, integrity_findings
from qos_analysis.load import Dataset
from qos_analysis.scoring.block import VerdictBlock
from qos_analysis.scoring.verdict import Outcome, Verdict

EvidenceFn = Callable[[Dataset, Verdict], list[str]]
EVIDENCE: dict[str, EvidenceFn] = {}
MAX_LINES = 3


def register_evidence(*metrics: str) -> Callable[[EvidenceFn], EvidenceFn]:
    def add(fn: EvidenceFn) -> EvidenceFn:
        for metric in metrics:
            if metric in EVIDENCE:
                raise ValueError(f"evidence for '{metric}' is already registered")
            EVIDENCE[metric] = fn
        return fn

    return add


def attach_evidence(data: Dataset, verdicts: Iterable[Verdict]) -> list[Verdict]:
    """``verdicts`` with the evidence of each failed one appended to its reason."""
    out = []
    for verdict in verdicts:
        fn = EVIDENCE.get(verdict.metric)
        if fn is not None and verdict.outcome == Outcome.FAIL:
            lines = fn(data, verdict)
            if lines:
                verdict = replace(verdict, reason=f"{verdict.reason}; evidence: {'; '.join(lines)}")
        out.append(verdict)
    return out


def attach_block_evidence(data: Dataset, block: VerdictBlock) -> VerdictBlock:
    """``block`` with the evidence of each failed verdict appended to its reason (the
    block itself when its metric has no evidence or nothing failed)."""
    metrics = set(block.column("metric"))
    if not metrics & EVIDENCE.keys() or Outcome.FAIL not in block.column("outcome"):
        return block
    return VerdictBlock.from_verdicts(attach_evidence(data, block.verdicts()))


@register_evidence("dns_manipulation", "http_manipulation", "port_manipulation", "tls_manipulation")
def integrity_evidence(data: Dataset, verdict: Verdict) -> list[str]:
    """The findings of the verdict's scope (agent, collector, target) inside its window."""
    findings = integrity_findings(data)
    mine = (
        (findings["agent_id"] == verdict.agent_id)
        & (findings["collector"] == verdict.collector)
        & (findings["target"] == verdict.target)
    )
    if verdict.window != "all":  # a fixed window [start, end); "all" spans the data
        if verdict.window_start is not None:
            mine &= findings["started_at"] >= pd.Timestamp(verdict.window_start)
        if verdict.window_end is not None:
            mine &= findings["started_at"] < pd.Timestamp(verdict.window_end)
    return evidence_lines(findings[mine], limit=MAX_LINES)
