"""Where scoring runs: in this process (pandas) or on a Dask ``distributed`` cluster.

Verdicts are computed per scope (agent, collector, target), so the work splits by agent
without changing any verdict: with ``engine="dask"`` each task reads a few agents'
partitions of a dataset (:mod:`qos_analysis.dataset`), builds their tidy frames with the
same loader and runs the same :func:`~qos_analysis.scoring.score` on them; the client
gathers the verdict tables and orders them by objective, agent id, scope and window (the
pandas engine lists scopes in data order; the rows are the same).  Workers hold only
their agents' data, so a dataset larger than one machine's memory is scored out of core,
and quantiles stay exact (every sample of a scope is on one worker; RFC 2330 ranks).

Objectives with no data anywhere give one "not assessed" row with scope ``*``; when any
agent has data for an objective the ``*`` rows other agents produced for it are dropped,
as the pandas engine (which sees every agent at once) never emits them.

``scheduler=None`` starts a ``LocalCluster`` (``workers`` processes, ``memory_limit`` each);
an address connects to an existing scheduler.  An unreachable scheduler is a
:class:`~qos.errors.QosError` naming the address; a failed task (e.g. a killed worker after
Dask's retries) fails the whole call — a partial table is never returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from qos.errors import QosError
from qos.profiles import Profile, get_profile
from qos_analysis.load import SCORING_PROBE_COLUMNS, Dataset, from_parts, load

ENGINES = ("pandas", "dask")
TASKS_PER_WORKER = 4
#: Parquet bytes one task reads at most (unless one agent alone has more): about 1.6 M probe
#: rows, a few hundred MB once in pandas, so a worker's memory bounds the task, not the data.
TASK_BYTES = 16 * 2**20


def score_sources(
    sources: Sequence[str | Path],
    profile: Profile | str,
    *,
    engine: str = "pandas",
    scheduler: str | None = None,
    workers: int = 2,
    memory_limit: str = "2GB",
    window: str | float | None = None,
    params: Mapping[str, str | float] | None = None,
    confidence: float | None = None,
    prepare: Callable[[Dataset], Dataset] | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Verdicts of ``profile`` on ``sources`` and the loader's notes.

    ``prepare`` (picklable, e.g. a :func:`functools.partial` of a module-level function)
    turns each loaded piece into the data to score — a period selection that keeps or drops
    whole measurements, so it gives the same rows whether applied per agent or at once.
    """
    from qos_analysis.scoring import score

    prof = get_profile(profile) if isinstance(profile, str) else profile
    kwargs: dict[str, Any] = {"window": window, "params": params, "confidence": confidence}
    if engine == "pandas":
        if scheduler:
            raise QosError("--scheduler needs --engine dask")
        data = load(list(sources), probe_columns=SCORING_PROBE_COLUMNS, intervals=False)
        data = prepare(data) if prepare is not None else data
        return score(data, prof, **kwargs), data.notes
    if engine != "dask":
        raise QosError(f"unknown engine {engine!r} (choose {', '.join(ENGINES)})")
    root = _dataset_root(sources)
    from qos_analysis.dataset.reader import list_agents

    agents = list_agents(root)
    if not agents:
        data = load([root], probe_columns=SCORING_PROBE_COLUMNS, intervals=False)
        data = prepare(data) if prepare is not None else data
        return score(data, prof, **kwargs), data.notes
    parts = map_agents(
        root,
        agents,
        _score_agents,
        scheduler,
        workers,
        memory_limit,
        profile=prof,
        kwargs=kwargs,
        prepare=prepare,
    )
    frames = [p[0] for p in parts]
    notes = tuple(dict.fromkeys(n for p in parts for n in p[1]))
    return merge_verdicts(frames, prof), notes


def map_agents(
    root: Path,
    agents: list[str],
    func: Callable[..., Any],
    scheduler: str | None,
    workers: int,
    memory_limit: str,
    **kwargs: Any,
) -> list[Any]:
    """``func(agent_chunk, root=..., **kwargs)`` for chunks of ``agents`` on a Dask cluster,
    about :data:`TASKS_PER_WORKER` tasks per worker; every result or an error."""
    with _DaskClient(scheduler, workers, memory_limit) as client:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        chunks = agent_chunks(root, agents, n_workers * TASKS_PER_WORKER)
        futures = client.map(func, chunks, root=str(root), retries=2, pure=False, **kwargs)
        try:
            return list(client.gather(futures))
        except Exception as exc:  # a task failed after its retries: no partial result
            raise QosError(f"distributed run failed: {type(exc).__name__}: {exc}") from exc


def agent_chunks(root: Path, agents: list[str], min_tasks: int) -> list[list[str]]:
    """Consecutive groups of agents, at least ``min_tasks`` of them (when there are that
    many agents) and each reading at most :data:`TASK_BYTES` of Parquet."""
    from qos_analysis.dataset.reader import agent_bytes

    sizes = agent_bytes(root)
    total = sum(sizes.get(a, 0) for a in agents)
    budget = max(1, min(TASK_BYTES, math.ceil(total / max(1, min_tasks))))
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for agent in agents:
        size = sizes.get(agent, 0)
        if current and used + size > budget:
            chunks.append(current)
            current, used = [], 0
        current.append(agent)
        used += size
    if current:
        chunks.append(current)
    return chunks


def _dataset_root(sources: Sequence[str | Path]) -> Path:
    from qos_analysis.dataset import is_dataset

    if len(sources) != 1 or not is_dataset(Path(sources[0])):
        raise QosError(
            "the dask engine reads one partitioned dataset (qos collector, qos ingest or "
            "qos synth write one); got: " + ", ".join(map(str, sources))
        )
    return Path(sources[0])


def _score_agents(
    agents: list[str],
    *,
    root: str,
    profile: Profile,
    kwargs: dict[str, Any],
    prepare: Callable[[Dataset], Dataset] | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """One task: load these agents' partitions and score them (runs on a worker)."""
    from qos_analysis.dataset.reader import read_dataset
    from qos_analysis.scoring import score

    part = read_dataset(
        Path(root), agents=set(agents), probe_columns=SCORING_PROBE_COLUMNS, intervals=False
    )
    data: Dataset = from_parts([part], SCORING_PROBE_COLUMNS)
    data = prepare(data) if prepare is not None else data
    return score(data, profile, **kwargs), data.notes


def merge_verdicts(frames: list[pd.DataFrame], profile: Profile) -> pd.DataFrame:
    """Concatenate per-agent verdict tables: objectives in profile order, then agent id,
    scope and window; "*" rows only for objectives no agent has data for (module doc)."""
    frames = [f for f in frames if len(f)] or frames[:1]
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].copy()
    if table.empty:
        return table.reset_index(drop=True)
    star = table["agent_id"].isna()
    scoped = set(table.loc[~star, "objective"])
    keep = ~star | ~table["objective"].isin(scoped)
    table = table[keep]
    table = table[~(table["agent_id"].isna() & table.duplicated(["objective", "direction"]))]
    order = {o.id: i for i, o in enumerate(profile.objectives)}
    key = table["objective"].map(order)
    return (
        table.assign(_order=key)
        .sort_values(
            ["_order", "agent_id", "collector", "target", "direction", "window_start"],
            kind="stable",
            na_position="first",
        )
        .drop(columns="_order")
        .reset_index(drop=True)
    )


class _DaskClient:
    """A Dask client on a new LocalCluster or on the scheduler at ``address``."""

    def __init__(self, address: str | None, workers: int, memory_limit: str) -> None:
        self.address, self.workers, self.memory_limit = address, workers, memory_limit
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> Any:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise QosError("the dask engine needs: pip install 'qos-toolkit[scale]'") from None
        if self.address is None:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                memory_limit=self.memory_limit,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            )
            self.client = Client(self.cluster)
            return self.client
        try:
            self.client = Client(self.address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise QosError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def panel_units(
    sources: Sequence[str | Path],
    meta: pd.DataFrame,
    peak: Any,
    *,
    engine: str = "pandas",
    scheduler: str | None = None,
    workers: int = 2,
    memory_limit: str = "2GB",
) -> pd.DataFrame:
    """Per-panellist figures (:func:`qos_analysis.panel.panellists.panellists`) on either
    engine; each panellist depends on its own agent's data only."""
    from qos_analysis.panel.panellists import panellists

    if engine == "pandas":
        if scheduler:
            raise QosError("--scheduler needs --engine dask")
        return panellists(load(list(sources)), meta, peak)
    if engine != "dask":
        raise QosError(f"unknown engine {engine!r} (choose {', '.join(ENGINES)})")
    root = _dataset_root(sources)
    agents = [str(a) for a in meta["agent_id"]]
    parts = map_agents(
        root, agents, _panel_agents, scheduler, workers, memory_limit, meta=meta, peak=peak
    )
    order = {a: i for i, a in enumerate(agents)}
    units = pd.concat(parts, ignore_index=True)
    return units.sort_values("agent_id", key=lambda s: s.map(order)).reset_index(drop=True)


def _panel_agents(agents: list[str], *, root: str, meta: pd.DataFrame, peak: Any) -> pd.DataFrame:
    from qos_analysis.dataset.reader import read_dataset
    from qos_analysis.panel.panellists import panellists

    data = from_parts([read_dataset(Path(root), agents=set(agents))])
    return panellists(data, meta[meta["agent_id"].isin(agents)], peak)
