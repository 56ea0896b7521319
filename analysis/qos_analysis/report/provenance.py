"""Provenance: where a report's numbers come from and how to reproduce it."""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path

import qos
from qos.profiles import Profile
from qos_analysis.load import Dataset
from qos_analysis.report.fmt import number
from qos_analysis.report.methodology import period_of
from qos_analysis.report.model import Count, Provenance
from qos_analysis.report.text import clean, clean_name

_UNIT = {"rate": "bit/s", "duration": "s", "ratio": "ratio"}


def toolkit_version() -> str:
    try:
        return importlib.metadata.version("qos-toolkit")
    except importlib.metadata.PackageNotFoundError:
        return qos.__version__


def profile_digest(profile: Profile) -> tuple[str, str]:
    """(file name, sha256 of the file's bytes); the digest is empty for built-in objects."""
    if not profile.path:
        return "", ""
    path = Path(profile.path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = ""
    return clean_name(path.name), digest


def build_provenance(
    data: Dataset, profile: Profile, params: Mapping[str, str], command: str
) -> Provenance:
    name, digest = profile_digest(profile)
    values = profile.parameter_values()
    parameters = tuple(
        (
            clean_name(n),
            "required, not given"
            if values.get(n) is None
            else number(values[n], _UNIT.get(p.dimension, "")),
        )
        for n, p in profile.parameters.items()
    )
    meas = data.measurements
    counts = (
        meas.groupby(["collector", "status"], observed=True).size().sort_index()
        if len(meas)
        else {}
    )
    agents = tuple(
        (clean_name(a), clean_name(z if isinstance(z, str) and z else "unknown"))
        for a, z in data.agents[["agent_id", "timezone"]].itertuples(index=False)
    )
    start, end = period_of(data)
    return Provenance(
        toolkit_version=toolkit_version(),
        profile_id=clean_name(profile.id),
        profile_title=clean(profile.title),
        profile_file=name,
        profile_sha256=digest,
        parameters=parameters,
        agents=agents,
        period_start=start,
        period_end=end,
        records=tuple(Count(clean_name(c), clean_name(s), int(n)) for (c, s), n in counts.items()),
        probes=len(data.probes),
        clock_sync=_clock_sync(data),
        sources=tuple(clean_name(s, 500) for s in data.sources),
        command=clean(command, 4000),
    )


def _clock_sync(data: Dataset) -> str:
    """How many probes carry one-way delays and how many of those had synchronised clocks
    (RFC 8762 §4.2: one-way delay needs synchronised clocks; the agent marks it)."""
    probes = data.probes
    if probes.empty or "forward_delay_s" not in probes:
        return "no probe data"
    has = probes["forward_delay_s"].notna() | probes["backward_delay_s"].notna()
    n = int(has.sum())
    if n == 0:
        return "no one-way delays in the data (round-trip measurements only)"
    valid = int(probes.loc[has, "one_way_valid"].fillna(False).astype(bool).sum())
    return (
        f"{valid:,} of {n:,} probes with one-way delays were taken with synchronised clocks "
        "(one_way_valid); only those are used as one-way delays"
    )
