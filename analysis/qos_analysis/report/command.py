"""``qos report``: the command-line face of :func:`qos_analysis.report.report`.

Imports only :mod:`argparse` at module level so ``qos --help`` stays fast; the scientific
stack loads when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

FORMATS = ("html", "pdf", "md", "json")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``report`` on the ``qos`` sub-command parser."""
    rp = sub.add_parser(
        "report",
        help="write a compliance report (HTML, PDF, Markdown or JSON)",
        description="Score measurements against a profile and write a report a regulator can "
        "publish or a consumer can attach to a complaint.",
    )
    rp.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="PATH",
        help="SQLite store, export directory, .jsonl file or glob (repeatable); default: the "
        "agent's default store, as for 'qos score'",
    )
    rp.add_argument("--profile", required=True, help="profile id, .toml file, or FILE#variant")
    rp.add_argument("--format", choices=FORMATS, default="html")
    rp.add_argument(
        "--out",
        metavar="PATH",
        help="output file or directory (default: $XDG_DATA_HOME/qos-toolkit/reports/, "
        "named by profile and period)",
    )
    rp.add_argument("--since", metavar="T", help="first instant (ISO 8601, UTC by default, or 7d)")
    rp.add_argument("--until", metavar="T", help="end instant, exclusive (ISO 8601 or a duration)")
    rp.add_argument(
        "--window", help="evaluation window: 1min, 1h, 1d or 'all' (default: profile's)"
    )
    rp.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="profile parameter"
    )
    rp.add_argument("--confidence", type=float, help="confidence level (default: profile's)")
    rp.add_argument("--title", help="report title (default: from the profile)")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")
    rp.add_argument(
        "--fail-on-violation", action="store_true", help="exit 3 when any verdict is 'fail'"
    )
    from qos_analysis.cli import add_engine_options

    add_engine_options(rp)
    return rp


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings → a mapping (values keep their units)."""
    from qos.errors import ProfileError

    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ProfileError(f"--param expects NAME=VALUE, got {item!r}")
        params[name.strip()] = value.strip()
    return params


def run(args: argparse.Namespace, default_data: Callable[[], str], exit_violation: int) -> int:
    from qos_analysis.report import report
    from qos_analysis.report.text import clean_name

    if args.confidence is not None and not 0 < args.confidence < 1:
        raise ValueError("--confidence must lie strictly between 0 and 1")
    data = args.data or [default_data()]
    with _progress(args.quiet) as step:
        written = report(
            data,
            args.profile,
            format=args.format,
            out=args.out,
            window=args.window,
            params=parse_params(args.param),
            confidence=args.confidence,
            since=args.since,
            until=args.until,
            title=args.title,
            step=step,
            engine=args.engine,
            scheduler=args.scheduler,
        )
    model = written.report
    for warning in model.warnings:
        print(f"qos: warning: {warning}", file=sys.stderr)
    print(f"overall {model.overall.upper()}: {clean_name(model.headline, 500)}")
    print(f"report written: {clean_name(written.path, 4096)}")
    if args.fail_on_violation and any(v.outcome == "fail" for v in model.verdicts):
        return exit_violation
    return 0


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """rich progress on a terminal's stderr; a no-op when quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda _name: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # Each step names the phase that has just ended; show the one now running.
    running = {
        "load": "scoring",
        "score": "summarising verdicts",
        "summary": "drawing figures",
        "figures": "drawing figures",
        "model": "rendering",
        "render": "writing",
        "write": "done",
    }
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("loading data", total=None)

        def step(name: str) -> None:
            bar.update(task, description=running.get(name, name), advance=1)

        yield step
