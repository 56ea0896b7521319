"""Benchmark: a compliance report over 1 million probes, per format — time and peak memory.

Generates the synthetic fleet export of ``benchmarks/analysis.py`` (4 agents × 2 targets,
one 100-probe test a minute per scope, gamma RTTs, 0.1 % loss), then renders the
``y1541/class0`` report (1-minute windows: tens of thousands of verdicts) once per format,
each in a fresh process so peak memory (``ru_maxrss``) belongs to that format alone.  The
time covers everything a user waits for: load, score, figures, render, atomic write.
Target: under 30 s per format on the project's 2-core machine.

    python benchmarks/report.py [--probes 1000000] [--formats html,pdf,md,json]

(with the package installed, or from a checkout with ``PYTHONPATH=.:analysis``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_S = 30.0


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_analysis", HERE / "analysis.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_export


def child(fmt: str, data: str, out: str) -> int:
    """Render one report and print its timings and peak RSS as JSON."""
    from qos_analysis.report import report

    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    written = report(
        data,
        "y1541/class0",
        format=fmt,
        out=out,
        step=lambda s: marks.append((s, time.perf_counter())),
    )
    total = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    phases: dict[str, float] = {}
    last = start
    for name, when in marks:
        phases[name] = phases.get(name, 0.0) + when - last
        last = when
    print(
        json.dumps(
            {
                "format": fmt,
                "seconds": total,
                # CPU time is what the run costs on an idle machine (the report is
                # single-threaded); wall time also counts waiting for a busy CPU.
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "phases": phases,
                "peak_rss_mib": usage.ru_maxrss / 1024,
                "bytes": sum(p.stat().st_size for p in written.files),
                "files": len(written.files),
                "verdicts": len(written.report.verdicts),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=1_000_000)
    parser.add_argument("--formats", default="html,pdf,md,json")
    parser.add_argument(
        "--child", nargs=3, metavar=("FORMAT", "DATA", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export"
        counts = _generator()(export, args.probes, probes_per_test=100)
        print(f"data: {counts['probes']:,} probes in {counts['measurements']:,} measurements")
        print(f"{'format':<7} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9} {'size':>10}  phases (s)")
        worst = 0.0
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"report.{fmt}"
            run = subprocess.run(
                [sys.executable, __file__, "--child", fmt, str(export), str(out)],
                capture_output=True,
                text=True,
                check=False,
                # The child imports the same tree as this process (a checkout or a test run).
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
            if run.returncode != 0:
                print(f"{fmt:<7} FAILED\n{run.stderr[-2000:]}")
                return 1
            r = json.loads(run.stdout.strip().splitlines()[-1])
            worst = max(worst, r["seconds"])
            phases = " ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())
            print(
                f"{fmt:<7} {r['seconds']:>7.1f} {r['cpu_seconds']:>6.1f} {r['peak_rss_mib']:>9.0f} "
                f"{r['bytes'] / 1e6:>8.1f}MB  {phases}  ({r['verdicts']:,} verdicts)"
            )
        verdict = "within" if worst < TARGET_S else "OVER"
        load1 = os.getloadavg()[0]
        print(
            f"slowest {worst:.1f} s wall: {verdict} the {TARGET_S:.0f} s target "
            f"(load average {load1:.1f} on {os.cpu_count()} CPUs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
