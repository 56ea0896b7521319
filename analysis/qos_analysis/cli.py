"""``qos``: score measurements against profiles, inspect profiles, estimate VoIP quality.

Commands (docs/architecture.md §5)::

    qos profiles list [--json]
    qos profiles show ID|FILE [--json]
    qos score --data PATH [--data PATH ...] --profile ID|FILE [--window 1h|all]
              [--param NAME=VALUE ...] [--confidence 0.95] [--format table|json|csv]
              [--fail-on-violation] [--engine pandas|dask [--scheduler ADDRESS]]
    qos report [--data PATH ...] --profile ID|FILE[#variant] --format html|pdf|md|json
               [--out PATH] [--since T] [--until T] [--window 1h|1d|all] [--title TEXT]
               [--fail-on-violation] [--quiet] [--engine pandas|dask [--scheduler ADDRESS]]
    qos qoe voip --one-way-delay-ms D --loss-percent P [--burst-ratio B] [--codec NAME]
                 [--convention echo-path|ta-only] [--delay-sensitivity default|low|very-low]
                 [--sT S] [--mT MS] [--Ie IE] [--Bpl BPL] [--advantage A|CLASS] [--json]
    qos synth --agents N --days D --out DATASET [--seed S]
    qos collector serve --dataset DIR --tokens FILE [--bind 127.0.0.1] [--port 8443]
                        [--tls-cert C --tls-key K] [--insecure]
    qos collector token add|revoke AGENT_ID --tokens FILE
    qos ingest PATHS... --into DATASET [--json]
    qos compare --data DATASET --by operator|region|plan|technology|agent [--agents FILE]
                [--peak 19-23] [--format table|csv|json] [--figures DIR]
                [--engine pandas|dask [--scheduler ADDRESS]]

Exit codes: 0 success; 2 usage, configuration or data error (bad profile, unreadable
file, newer schema); 3 at least one verdict is ``fail`` and ``--fail-on-violation`` was
given.  ``inconclusive`` verdicts never cause a non-zero exit on their own.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qos.paths import store_path
from qos.text_safety import neutralize
from qos.units import format_bytes
from qos_analysis.presentation import format_quantity

if TYPE_CHECKING:
    from qos.profiles import Profile
    from qos_analysis.tariff import TariffFigures

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_VIOLATION = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from qos.errors import QosError

    try:
        return int(args.func(args))
    except QosError as exc:
        print(f"qos: error: {neutralize(exc, max_length=2000)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # bad numbers given on the command line
        print(f"qos: error: {neutralize(exc, max_length=2000)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`qos score | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qos",
        description="Judge measured Internet quality against published standards.",
        epilog="Exit codes: 0 ok, 2 usage/config/data error, 3 violation with --fail-on-violation.",
    )
    sub = parser.add_subparsers(dest="command")

    prof = sub.add_parser("profiles", help="list or show threshold profiles")
    psub = prof.add_subparsers(dest="action")
    plist = psub.add_parser("list", help="list every available profile")
    plist.add_argument("--json", action="store_true", help="machine-readable output")
    plist.set_defaults(func=_profiles_list)
    pshow = psub.add_parser("show", help="show one profile's objectives and sources")
    pshow.add_argument("profile", help="profile id (e.g. y1541/class0) or a .toml file")
    pshow.add_argument("--json", action="store_true", help="machine-readable output")
    pshow.set_defaults(func=_profiles_show)

    sc = sub.add_parser("score", help="score measurements against a profile")
    sc.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="PATH",
        help="SQLite store, export directory, .jsonl file or glob (repeatable); default: "
        "the agent's store ($QOS_STORE_PATH, else $XDG_DATA_HOME/qos-toolkit/measurements.sqlite)",
    )
    sc.add_argument("--profile", required=True, help="profile id or .toml file")
    sc.add_argument(
        "--window", help="evaluation window, e.g. 1min, 1h, 1d or 'all' (default: the profile's)"
    )
    sc.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="profile parameter, e.g. download_max=250Mbit/s (repeatable)",
    )
    sc.add_argument(
        "--confidence",
        type=float,
        help="confidence level for bounds (default: the profile's, usually 0.95)",
    )
    sc.add_argument("--format", choices=("table", "json", "csv"), default="table")
    sc.add_argument(
        "--fail-on-violation",
        action="store_true",
        help=f"exit {EXIT_VIOLATION} when any verdict is 'fail'",
    )
    add_engine_options(sc)
    sc.set_defaults(func=_score)

    qoe = sub.add_parser("qoe", help="QoE estimates")
    qsub = qoe.add_subparsers(dest="model")
    voip = qsub.add_parser("voip", help="G.107 E-model R and MOS for a VoIP call")
    voip.add_argument("--one-way-delay-ms", type=float, required=True)
    voip.add_argument("--loss-percent", type=float, required=True)
    voip.add_argument(
        "--burst-ratio", type=float, default=1.0, help="G.107 BurstR (1 = random loss)"
    )
    voip.add_argument("--codec", default="g711", help="G.113 codec (default g711)")
    voip.add_argument(
        "--convention",
        choices=("echo-path", "ta-only"),
        default="echo-path",
        help="echo-path: T = Ta, Tr = 2Ta (flent/G.114); ta-only: T = Tr = 0",
    )
    _voip_emodel_options(voip)
    voip.add_argument("--json", action="store_true")
    voip.set_defaults(func=_qoe_voip)
    _add_report(sub)
    _register_commands(sub)
    return parser


def _register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Subcommands kept in their own modules (qos_analysis.commands)."""
    from qos_analysis.commands import collector, compare, ingest, synth

    synth.register(sub)
    collector.register(sub)
    ingest.register(sub)
    compare.register(sub)


def _voip_emodel_options(voip: argparse.ArgumentParser) -> None:
    """G.107 (06/2015) Table 3 parameters users change most: sT/mT, Ie, Bpl, A."""
    from qos_analysis.qoe.emodel import ADVANTAGE_FACTORS, DELAY_SENSITIVITY

    classes = ", ".join(f"{k}: sT {s:g}, mT {m:g} ms" for k, (s, m) in DELAY_SENSITIVITY.items())
    voip.add_argument(
        "--delay-sensitivity",
        choices=tuple(DELAY_SENSITIVITY),
        default="default",
        help=f"G.107 delay-sensitivity class ({classes}); 'default' is the one for "
        "carrier-grade telephony",
    )
    voip.add_argument("--sT", type=float, help="delay sensitivity sT (overrides the class's value)")
    voip.add_argument(
        "--mT", type=float, help="minimum perceivable delay mT in ms (overrides the class's value)"
    )
    voip.add_argument("--Ie", type=float, help="equipment impairment factor (default: the codec's)")
    voip.add_argument(
        "--Bpl", type=float, help="packet-loss robustness factor (default: the codec's)"
    )
    voip.add_argument(
        "--advantage",
        default="0",
        metavar="A|CLASS",
        help="advantage factor A, a number in [0, 20] or one of "
        f"{', '.join(ADVANTAGE_FACTORS)} (default 0; keep 0 for compliance)",
    )


# --- profiles --------------------------------------------------------------------------------


def _profiles_list(args: argparse.Namespace) -> int:
    from qos.profiles import available_profiles

    profiles = available_profiles()
    rows: list[dict[str, Any]] = [
        {
            "id": p.id,
            "objectives": len(p.objectives),
            "verified": p.verified,
            "title": p.title,
            "source": f"{p.source.document} ({p.source.edition})",
        }
        for p in profiles.values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))  # ASCII: data text cannot reach the terminal raw
        return EXIT_OK
    width = max((len(r["id"]) for r in rows), default=2)
    _say(f"{'ID':<{width}}  OBJ  VERIFIED  TITLE")
    for r in rows:
        _say(
            f"{r['id']:<{width}}  {r['objectives']:>3}  {'yes' if r['verified'] else 'no':<8}"
            f"  {r['title']}"
        )
    return EXIT_OK


def _limit_text(value: float | None, text: str, dimension: str) -> str:
    if value is None:
        return text
    return format_quantity(value, dimension)


def _profiles_show(args: argparse.Namespace) -> int:
    from qos.profiles import get_profile

    p = get_profile(args.profile)
    info: dict[str, Any] = {
        "id": p.id,
        "title": p.title,
        "file": p.path,
        "schema_version": p.schema_version,
        "source": {
            "document": p.source.document,
            "edition": p.source.edition,
            "clause": p.source.clause,
            "verified": p.source.verified,
            "standards_ref": p.source.standards_ref,
            "notes": p.source.notes,
        },
        "window": "all" if p.window_s is None else f"{p.window_s:g}s",
        "confidence": p.confidence,
        "decision": p.decision,
        "one_way_rule": p.one_way_rule,
        "failed_tests": p.failed_tests,
        "parameters": {
            n: {"dimension": x.dimension, "value": x.value, "required": x.value is None}
            for n, x in p.parameters.items()
        },
        "periods": {
            n: {
                "start": x.start.strftime("%H:%M"),
                "end_minutes": x.end_minutes,
                "days": list(x.days),
            }
            for n, x in p.periods.items()
        },
        "objectives": [],
        "tariff": None
        if p.tariff is None
        else {
            "price_per_month": str(p.tariff.price_per_month),
            "currency": p.tariff.currency,
            "data_allowance_bytes": p.tariff.data_allowance_bytes,
            "advertised_download": p.tariff.advertised_download,
        },
    }
    for o in p.objectives:
        dim = (
            "ratio"
            if o.statistic == "share"
            else ("count" if o.statistic.startswith("days_") else o.spec.dimension)
        )
        info["objectives"].append(
            {
                "id": o.id,
                "title": o.title,
                "metric": o.metric,
                "statistic": o.statistic,
                "percentile": None if o.percentile is None else str(o.percentile),
                "comparison": o.comparison,
                "limit": _limit_text(o.limit.value, o.limit.text, dim),
                "threshold": None
                if o.threshold is None
                else _limit_text(o.threshold.value, o.threshold.text, o.spec.dimension),
                "min_samples": o.min_samples,
                "period": o.period,
                "clause": o.clause,
                "verified": o.verified,
                "note": o.note,
            }
        )
    if args.json:
        print(json.dumps(info, indent=2))  # ASCII: data text cannot reach the terminal raw
        return EXIT_OK
    src = info["source"]
    _say(f"{p.id}: {p.title}")
    _say(
        f"  source: {src['document']} ({src['edition']}), {src['clause']}; "
        f"verified: {'yes' if src['verified'] else 'no'}"
    )
    if src["notes"]:
        _say(f"  notes: {src['notes']}")
    _say(
        f"  window: {info['window']}  confidence: {p.confidence}  decision: {p.decision}  "
        f"one-way rule: {p.one_way_rule}  failed tests: {p.failed_tests}"
    )
    for name, par in info["parameters"].items():
        state = (
            "REQUIRED (--param)"
            if par["required"]
            else format_quantity(par["value"], par["dimension"])
        )
        _say(f"  parameter {name} ({par['dimension']}): {state}")
    if p.tariff is not None:
        allowance = p.tariff.data_allowance_bytes
        _say(
            f"  tariff: {p.tariff.price_per_month} {p.tariff.currency} per month; allowance "
            f"{'none' if allowance is None else format_bytes(allowance)}; advertised download "
            f"= parameter {p.tariff.advertised_download or '(none)'}"
        )
    for o in info["objectives"]:
        what = o["statistic"] + (f" {o['percentile']}" if o["percentile"] else "")
        thr = f" (per sample {o['threshold']})" if o["threshold"] else ""
        per = f" in period {o['period']}" if o["period"] else ""
        _say(
            f"  - {o['id']}: {what} of {o['metric']}{thr} {o['comparison']} {o['limit']}"
            f"{per}; min_samples {o['min_samples']}; {o['clause']}"
        )
    if not p.objectives:
        _say("  (no objectives: the source specifies none)")
    return EXIT_OK


def _say(line: str) -> None:
    """One line of profile text, neutralised: a profile file is data (it may come from
    anyone), so its titles and notes can neither drive the terminal nor add lines."""
    print(neutralize(line, max_length=10_000))


# --- score -----------------------------------------------------------------------------------


def _score(args: argparse.Namespace) -> int:
    from qos.errors import ProfileError
    from qos.profiles import get_profile
    from qos_analysis.engine import score_sources
    from qos_analysis.scoring import overall_outcome
    from qos_analysis.tariff import tariff_lines
    from qos_analysis.verdict_table import print_verdict_table

    params: dict[str, str] = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ProfileError(f"--param expects NAME=VALUE, got {item!r}")
        params[name.strip()] = value.strip()
    if args.confidence is not None and not 0 < args.confidence < 1:
        raise ProfileError("--confidence must lie strictly between 0 and 1")
    profile = get_profile(args.profile)
    sources = data_sources(args.data)
    if sources is None:
        return EXIT_USAGE
    verdicts, notes = score_sources(
        sources,
        profile,
        engine=args.engine,
        scheduler=args.scheduler,
        window=args.window,
        params=params,
        confidence=args.confidence,
    )
    summary = overall_outcome(verdicts)
    tariff = _tariff(sources, profile, params)
    if args.format == "json":
        out = json.loads(verdicts.to_json(orient="records", date_format="iso"))
        print(
            json.dumps(
                {
                    "profile": profile.id,
                    "overall": summary.outcome,
                    "overall_text": summary.text,
                    "assessed": list(summary.assessed),
                    "not_assessed": list(summary.not_assessed),
                    "notes": list(notes),
                    "verdicts": out,
                    "tariff": tariff.as_dict() if tariff is not None else None,
                },
                indent=2,  # ASCII (\uXXXX): bidi overrides and C1 controls stay escaped
            )
        )
    elif args.format == "csv":
        from qos_analysis.csv_safety import protect_formula_cells

        protect_formula_cells(verdicts).to_csv(sys.stdout, index=False)
    else:
        print_verdict_table(verdicts, profile.id, summary, notes, sys.stdout)
        for line in tariff_lines(tariff) if tariff is not None else []:
            print(line)
    if args.fail_on_violation and (verdicts["outcome"] == "fail").any():
        return EXIT_VIOLATION
    return EXIT_OK


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine pandas|dask [--scheduler ADDRESS]`` (qos_analysis.engine)."""
    parser.add_argument(
        "--engine",
        choices=("pandas", "dask"),
        default="pandas",
        help="pandas: in this process; dask: on a distributed cluster over a partitioned "
        "dataset (the 'scale' extra)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (default: a LocalCluster "
        "with 2 workers)",
    )


def _tariff(sources: list[str], profile: Profile, params: dict[str, str]) -> TariffFigures | None:
    """The tariff figures (docs/methods.md §14) when the profile has a ``[tariff]``: the
    data set is loaded for them only then."""
    if profile.tariff is None:
        return None
    from qos_analysis.load import load
    from qos_analysis.tariff import tariff_figures

    return tariff_figures(load(sources), profile, params)


def data_sources(given: list[str] | None) -> list[str] | None:
    """The ``--data`` paths, or the agent's store (``$QOS_STORE_PATH`` or the XDG default,
    resolved as the agent resolves it); ``None`` after telling the user when there is no
    store yet."""
    if given:
        return given
    path = store_path()
    if not path.exists():
        print(
            f"qos: no measurements yet: {path} does not exist; run `qos-agent run --once` "
            "first (or pass --data PATH)",
            file=sys.stderr,
        )
        return None
    return [str(path)]


# --- qoe -------------------------------------------------------------------------------------


def _qoe_voip(args: argparse.Namespace) -> int:
    from qos_analysis.qoe.emodel import EModelParams
    from qos_analysis.qoe.voip import voip_quality

    if args.one_way_delay_ms < 0 or not 0 <= args.loss_percent <= 100 or args.burst_ratio < 1:
        raise ValueError("need delay ≥ 0 ms, 0 ≤ loss ≤ 100 %, burst ratio ≥ 1")
    params, sensitivity = _voip_params(args)
    result = voip_quality(
        args.one_way_delay_ms,
        args.loss_percent,
        burst_ratio=args.burst_ratio,
        codec=args.codec,
        convention=args.convention,
        params=EModelParams(**params),
        Ie=args.Ie,
        Bpl=args.Bpl,
    )
    p = result.params
    if args.json:
        out = result.as_dict()
        out.update(
            codec=args.codec,
            convention=args.convention,
            delay_sensitivity=sensitivity,
            model="ITU-T G.107 (06/2015)",
        )
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"R = {result.R:.2f}  MOS = {result.mos:.2f}  ({result.band})")
    print(
        f"  Ro {result.Ro:.2f} − Is {result.Is:.2f} − Id {result.Id:.2f} "
        f"(Idte {result.Idte:.2f}, Idle {result.Idle:.2f}, Idd {result.Idd:.2f}) "
        f"− Ie,eff {result.Ie_eff:.2f} + A {result.A:g}"
    )
    print(
        f"  codec {args.codec} (Ie {p.Ie:g}{' given' if args.Ie is not None else ''}, "
        f"Bpl {p.Bpl:g}{' given' if args.Bpl is not None else ''}), "
        f"delay sensitivity {sensitivity} (sT {p.sT:g}, mT {p.mT_ms:g} ms), "
        f"{args.convention} delay convention, G.107 (06/2015) E-model"
    )
    if p.A:
        print("  note: an advantage factor A > 0 is for planning; keep A = 0 for compliance")
    return EXIT_OK


def _voip_params(args: argparse.Namespace) -> tuple[dict[str, float], str]:
    """E-model overrides from the command line and the delay-sensitivity label to report."""
    from qos_analysis.qoe.emodel import ADVANTAGE_FACTORS, DELAY_SENSITIVITY

    sT, mT = DELAY_SENSITIVITY[args.delay_sensitivity]
    sensitivity = args.delay_sensitivity
    if args.sT is not None or args.mT is not None:
        sT = sT if args.sT is None else args.sT
        mT = mT if args.mT is None else args.mT
        sensitivity = "custom"
    for name, value in (("--sT", sT), ("--mT", mT), ("--Bpl", args.Bpl)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")
    if args.Ie is not None and not (math.isfinite(args.Ie) and 0 <= args.Ie < 95):
        raise ValueError(f"--Ie must lie in [0, 95), got {args.Ie}")
    text = str(args.advantage).strip()
    if text in ADVANTAGE_FACTORS:
        A = ADVANTAGE_FACTORS[text]
    else:
        try:
            A = float(text)
        except ValueError:
            raise ValueError(
                f"--advantage must be a number or one of {', '.join(ADVANTAGE_FACTORS)}, "
                f"not {text!r}"
            ) from None
        if not (math.isfinite(A) and 0 <= A <= 20):
            raise ValueError(f"--advantage must lie in [0, 20] (G.107 maximum 20), got {text}")
    return {"sT": sT, "mT_ms": mT, "A": A}, sensitivity


# --- report ----------------------------------------------------------------------------------


def _add_report(sub: Any) -> None:
    from qos_analysis.report.command import add_parser

    add_parser(sub).set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from qos_analysis.report.command import run

    return run(args, lambda: str(store_path()), EXIT_VIOLATION)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
