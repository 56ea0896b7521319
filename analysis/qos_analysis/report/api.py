"""``qos_analysis.report(data, profile, format=..., out=...)``: load, score, build, render,
write atomically; the ``qos report`` command calls the same functions."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from qos.paths import data_dir
from qos.profiles import Profile, get_profile
from qos_analysis.load import Dataset, load
from qos_analysis.report.base import Rendered, ReportError, write_rendered
from qos_analysis.report.model import Report
from qos_analysis.report.period import parse_time, restrict
from qos_analysis.report.registry import renderer

Step = Callable[[str], None]


@dataclass(frozen=True)
class Written:
    """What :func:`report` produced: the main file, every file written, and the model."""

    path: Path
    files: tuple[Path, ...]
    report: Report


def default_report_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/qos-toolkit/reports`` (``~/.local/share/qos-toolkit/reports``)."""
    return data_dir(environ) / "reports"


def default_name(report: Report, suffix: str) -> str:
    """``<profile>_<first day>_<last day><suffix>``, safe as a file name."""
    p = report.provenance
    profile = re.sub(r"[^A-Za-z0-9._-]+", "-", p.profile_id).strip("-.")[:60] or "profile"
    if p.period_start and p.period_end:
        period = f"{p.period_start[:10]}_{p.period_end[:10]}"
    else:
        period = "no-data"
    return f"{profile}_{period}{suffix}"


def reproduce_command(
    sources: Sequence[str], profile: str, fmt: str, options: Mapping[str, Any]
) -> str:
    words = ["qos", "report"]
    for src in sources:
        words += ["--data", src]
    words += ["--profile", profile, "--format", fmt]
    for name, value in options.items():
        if value is None or value is False or value == [] or value == {}:
            continue
        if isinstance(value, Mapping):
            for key, item in value.items():
                words += [f"--{name}", f"{key}={item}"]
        elif value is True:
            words.append(f"--{name}")
        else:
            words += [f"--{name}", str(value)]
    return shlex.join(words)


def report(
    data: Dataset | str | Path | Sequence[str | Path],
    profile: Profile | str,
    *,
    format: str = "html",
    out: str | Path | None = None,
    window: str | None = None,
    params: Mapping[str, str] | None = None,
    confidence: float | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    title: str | None = None,
    generated_at: datetime | None = None,
    command: str | None = None,
    step: Step | None = None,
    engine: str = "pandas",
    scheduler: str | None = None,
) -> Written:
    """Render a compliance report of ``data`` against ``profile`` and write it atomically.

    ``data`` is a :class:`Dataset` or path(s) for :func:`qos_analysis.load`; ``out`` a file
    or directory (default :func:`default_report_dir`, named by profile and period).
    ``engine="dask"`` scores a partitioned dataset on a Dask cluster (``scheduler``, else a
    LocalCluster; :mod:`qos_analysis.engine`); the figures and tables are still drawn from
    the data read in this process.
    """
    from qos_analysis.report.build import build_report  # matplotlib loads only when used

    tick = step or (lambda _name: None)
    writer = renderer(format)  # unknown formats fail before any work
    prof = get_profile(profile) if isinstance(profile, str) else profile
    if params:
        prof = prof.with_parameters(params)
    period = (parse_time(since), parse_time(until))
    verdicts = _engine_verdicts(data, prof, engine, scheduler, window, confidence, period)
    dataset = data if isinstance(data, Dataset) else load(data)
    tick("load")
    dataset = restrict(dataset, *period)
    if verdicts is None:
        from qos_analysis.scoring import score

        verdicts = score(dataset, prof, window=window, confidence=confidence)
    tick("score")
    if command is None:
        command = reproduce_command(
            list(dataset.sources),
            profile if isinstance(profile, str) else (prof.path or prof.id),
            format,
            {
                "window": window,
                "param": dict(params or {}),
                "confidence": confidence,
                "since": since,
                "until": until,
                "title": title,
                "engine": None if engine == "pandas" else engine,
                "scheduler": scheduler,
            },
        )
    model = build_report(
        dataset,
        prof,
        verdicts,
        title=title,
        params=params,
        command=command,
        generated_at=generated_at,
        step=tick,
    )
    path = _target(out, model, writer.suffix)
    rendered: Rendered = writer.render(model, path.name.removesuffix(writer.suffix))
    tick("render")
    files = write_rendered(rendered, path)
    tick("write")
    return Written(path, tuple(files), model)


def _engine_verdicts(
    data: Dataset | str | Path | Sequence[str | Path],
    prof: Profile,
    engine: str,
    scheduler: str | None,
    window: str | None,
    confidence: float | None,
    period: tuple[Any, Any],
) -> Any:
    """The verdict table scored by the Dask engine; None for the pandas engine (the report
    scores the data it has loaded).  Runs before the data is loaded here, so a bad engine
    option or an unreachable scheduler fails before any other work."""
    from qos_analysis.engine import ENGINES, score_sources

    if engine not in ENGINES:
        raise ReportError(f"unknown engine {engine!r} (choose {', '.join(ENGINES)})")
    if engine == "pandas":
        if scheduler:
            raise ReportError("--scheduler needs --engine dask")
        return None
    if isinstance(data, Dataset):
        raise ReportError("the dask engine reads a partitioned dataset path, not a Dataset")
    sources = [data] if isinstance(data, str | Path) else list(data)
    verdicts, _ = score_sources(
        sources,
        prof,
        engine=engine,
        scheduler=scheduler,
        window=window,
        confidence=confidence,
        prepare=partial(restrict, since=period[0], until=period[1]),
    )
    return verdicts


def _target(out: str | Path | None, model: Report, suffix: str) -> Path:
    if out is None:
        directory = default_report_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"{directory}: cannot create the report directory ({exc})") from exc
        return directory / default_name(model, suffix)
    path = Path(out).expanduser()
    if path.is_dir():
        return path / default_name(model, suffix)
    return path
