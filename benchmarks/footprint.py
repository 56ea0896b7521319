"""Footprint of the agent: memory, CPU and bytes on the wire, each beside a peer.

    .venv/bin/python benchmarks/footprint.py            # about 3-4 minutes
    .venv/bin/python benchmarks/footprint.py --probes 5000 --skip-rss

Figures (all on this machine, in this run; loopback only — agent.example.toml is never run):

1. **Idle RSS** of ``qos-agent run`` on the ``configs/local.toml`` jobs (spread set to 0 so
   every job runs once within seconds), read from ``/proc/PID/status`` once every job has
   been stored and the daemon idles; peer: a bare interpreter that imported ``sqlite3``.
   Target ≤ 20 MB.  The daemon runs each job in a short-lived forked child
   (:mod:`qos_agent.isolation`); the children have exited when it idles.
2. **CPU seconds per hour** on the ``configs/local.toml`` schedule, throughput jobs
   excluded: each job's CPU (run + store, in a fresh agent process that runs each job in
   a forked child as the daemon does; the child's CPU is counted) × runs per hour, plus
   the idle agent's CPU over 10 s scaled to an hour.  Target ≤ 1 % of one core (36 s/h).
   Peer: fping sending the ICMP job's probes, × runs per hour.
3. **CPU per 10,000 ICMP probes** (1 ms apart, 127.0.0.1): our ``icmp`` collector after
   start-up (process CPU around ``measure``) against ``fping -c N -p 1 -i 1`` (its whole
   process), in alternating rounds (``--rounds``, 3) so that both see the same host load;
   each round, the ratio of the medians and the median of the rounds' ratios are printed.
   Target ≤ 1.5× fping.
4. **Bytes per day** of the ``configs/local.toml`` and ``configs/agent.example.toml``
   schedules (enabled jobs).  The local jobs are run once in a private network namespace and
   counted by the kernel (``lo`` in ``/proc/net/dev``: IP packets), next to the figure
   computed from packet sizes; the example's figure is computed only (its targets are on the
   Internet), as Ethernet frames (14-byte header, no FCS); HTTP(S) GETs are assumptions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (".", "agent", "analysis"))
LOCAL = REPO / "configs" / "local.toml"
EXAMPLE = REPO / "configs" / "agent.example.toml"
ETH, IP4, UDP, ICMP = 14, 20, 8, 8
TCP_OPTS_SYN, TCP_DATA = 40, 32  # TCP header with SYN options / with timestamps
RSS_TARGET_MB, CPU_TARGET_PCT, ICMP_TARGET = 20.0, 1.0, 1.5
#: an HTTPS GET of a small page: TCP handshake and close, TLS 1.3 handshake with a
#: two-certificate chain (≈ 5 kB), request and response (≈ 2 kB) — an assumption, stated
HTTPS_GET_BYTES = 8_000
#: the same without TLS: TCP handshake and close, request and a small response
HTTP_GET_BYTES = 1_200


def env(tmp: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("QOS_")}
    out.update(PYTHONPATH=PYTHONPATH, XDG_DATA_HOME=str(tmp / "xdg"), HOME=str(tmp))
    return out


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def local_config(tmp: Path, *, heavy: bool = True) -> Path:
    """configs/local.toml with spread 0 and a private store (optionally without heavy jobs)."""
    doc = tomllib.loads(LOCAL.read_text())
    lines = [f'[store]\npath = "{tmp / "store.sqlite"}"\n', '[agent]\ntimezone = "UTC"\n']
    for job in doc["jobs"]:
        if not heavy and job["collector"] in {"http_throughput", "iperf3", "speedtest"}:
            continue
        params = ", ".join(f"{k} = {json.dumps(v)}" for k, v in job.get("params", {}).items())
        lines.append(
            f'[[jobs]]\nname = "{job["name"]}"\ncollector = "{job["collector"]}"\n'
            f'target = "{job["target"]}"\ninterval = "{job["interval"]}"\nspread = "0s"\n'
            f"params = {{ {params} }}\n"
        )
    path = tmp / ("local0.toml" if heavy else "local0-light.toml")
    path.write_text("\n".join(lines))
    return path


# -- 1. idle RSS ----------------------------------------------------------------------------


def idle_rss(tmp: Path) -> tuple[float, float, float]:
    """(daemon at start, daemon idle after every job, bare interpreter) in MB."""
    config = local_config(tmp)
    jobs = len(tomllib.loads(config.read_text())["jobs"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "qos_agent.cli", "run", "--config", str(config)],
        env=env(tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peer = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, time; time.sleep(60)"], env=env(tmp)
    )
    try:
        time.sleep(1.0)  # started: config checked, store open, first job running in a child
        at_start = rss_kb(proc.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _count(tmp / "store.sqlite") < jobs:
            time.sleep(0.5)
        time.sleep(3.0)
        idle = rss_kb(proc.pid)
        bare = rss_kb(peer.pid)
    finally:
        proc.terminate()
        peer.kill()
        proc.wait(30)
        peer.wait(30)
    return at_start / 1024, idle / 1024, bare / 1024


def _count(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])
    except sqlite3.Error:
        return 0


# -- 2. CPU per hour --------------------------------------------------------------------------

_CPU_CHILD = """
import json, resource, sys, threading, time
from qos.config import load_config
from qos_agent.runtime import AgentRuntime
def cpu():  # this process and its waited-for children (the daemon runs each job in one)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
config = load_config(sys.argv[1])
runtime = AgentRuntime(config, isolate=True)
out = {"jobs": []}
for job in config.jobs:
    t0 = cpu()
    m = runtime.run_job(job)
    runtime.commit(m)
    out["jobs"].append([job.name, job.interval_s, cpu() - t0, str(m.status)])
t0, w0 = cpu(), time.monotonic()
runtime.waiter(threading.Event())(10.0)
out["idle"] = [cpu() - t0, time.monotonic() - w0]
runtime.close()
print(json.dumps(out))
"""


def cpu_per_hour(tmp: Path) -> dict:
    config = local_config(tmp, heavy=False)
    out = subprocess.run(
        [sys.executable, "-c", _CPU_CHILD, str(config)],
        env=env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- 3. ICMP probes against fping ----------------------------------------------------------------

_ICMP_CHILD = """
import sys, time
from qos_agent import collectors
from qos_agent.collectors.base import MeasureContext
c = collectors.get("icmp")
ctx = MeasureContext(agent_id="bench")
c.measure("127.0.0.1", c.resolve({"count": 10, "interval": "1ms", "timeout": "200ms"}), ctx)
params = c.resolve({"count": int(sys.argv[1]), "interval": "1ms", "timeout": "200ms"})
t0 = time.process_time()
m = c.measure("127.0.0.1", params, ctx)
cpu = time.process_time() - t0
print(cpu, m.result.received if m.result else 0, m.status)
"""


def icmp_cpu(tmp: Path, probes: int, rounds: int) -> list[tuple[float, float, int, int]] | str:
    """``rounds`` alternating runs of our collector and fping: (ours, fping, replies, fping
    replies) per round.  Alternating puts both under the same (shared-host) load."""
    if shutil.which("fping") is None:
        return "fping is not installed"
    out = []
    for _ in range(rounds):
        ours = subprocess.run(
            [sys.executable, "-c", _ICMP_CHILD, str(probes)],
            env=env(tmp),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if ours.returncode != 0:
            return f"icmp collector failed: {ours.stderr.strip()[-300:]}"
        cpu, received, _status = ours.stdout.split()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        peer = subprocess.run(
            ["fping", "-c", str(probes), "-p", "1", "-i", "1", "-q", "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        fping_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out.append((float(cpu), fping_cpu, int(received), _fping_received(peer.stderr)))
    return out


def _fping_received(text: str) -> int:
    # "127.0.0.1 : xmt/rcv/%loss = 10000/10000/0%, ..."
    try:
        return int(text.split("=")[1].split("/")[1])
    except (IndexError, ValueError):
        return -1


# -- 4. bytes per day -------------------------------------------------------------------------

_BYTES_CHILD = """
import json, subprocess, sys
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
from qos.config import load_config
from qos_agent.runtime import AgentRuntime
def tx():  # /proc/net/dev is per network namespace (/sys/class/net is not)
    for line in open("/proc/net/dev"):
        if line.strip().startswith("lo:"):
            return int(line.split(":", 1)[1].split()[8])
config = load_config(sys.argv[1])
runtime = AgentRuntime(config)
out = []
for job in config.jobs:
    before = tx()
    m = runtime.run_job(job)
    out.append([job.name, tx() - before, str(m.status)])
runtime.close()
print(json.dumps(out))
"""


def computed_bytes_per_run(job: dict, link: int) -> tuple[float, str]:
    """Bytes one run of a job puts on the wire, from packet sizes; (bytes, basis).

    ``link`` is the link-layer header per packet: 14 on Ethernet, 0 for the loopback
    counters (``/proc/net/dev`` counts IP packets on ``lo``).
    """
    p = job.get("params", {})
    kind = job["collector"]
    if kind == "icmp":
        count, size = int(p.get("count", 20)), int(p.get("size", 56))
        return count * 2 * (link + IP4 + ICMP + size), "echo request + reply"
    if kind == "stamp":
        count, size = int(p.get("count", 100)), int(p.get("size", 44))
        return count * 2 * (link + IP4 + UDP + size), "test packet + reflected packet"
    if kind == "tcp_connect":
        count = int(p.get("count", 5))
        syn, rest = link + IP4 + TCP_OPTS_SYN, link + IP4 + TCP_DATA
        return count * (2 * syn + 4 * rest), "SYN, SYN-ACK, ACK; FIN, FIN, ACK"
    if kind == "dns":
        types = [t for t in str(p.get("types", "A")).split(",") if t]
        name = len(str(p.get("name", "example.com"))) + 2
        query = link + IP4 + UDP + 12 + name + 4
        answers = sum(16 if t.strip().upper() == "A" else 28 for t in types)
        return len(types) * 2 * query + answers, "query + reply with one answer each"
    if kind == "http":
        if str(job["target"]).startswith("https"):
            return HTTPS_GET_BYTES, "assumed: HTTPS GET of a small page"
        return HTTP_GET_BYTES, "assumed: plain HTTP GET of a small page"
    return float("nan"), "throughput: depends on the line rate (see daily_budget)"


def bytes_per_day(config: Path, link: int) -> list[tuple[str, float, float, str]]:
    doc = tomllib.loads(config.read_text())
    rows = []
    from qos.units import parse_duration_s

    for job in doc.get("jobs", []):
        if not job.get("enabled", True):
            continue
        per_run, basis = computed_bytes_per_run(job, link)
        runs = 86_400 / parse_duration_s(job.get("interval", "5min"))
        rows.append((job["name"], per_run, runs, basis))
    return rows


def counted_bytes(tmp: Path) -> dict[str, int] | str:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare (a private network namespace)"
    out = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", _BYTES_CHILD, str(local_config(tmp))],
        env=env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0:
        return f"failed: {out.stderr.strip()[-300:]}"
    return {name: n for name, n, _status in json.loads(out.stdout.strip().splitlines()[-1])}


# -- report ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating ICMP rounds")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-icmp", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qos-footprint-") as name:
        tmp = Path(name)
        if not args.skip_rss:
            report_rss(tmp / "rss")
        report_cpu(tmp / "cpu")
        if not args.skip_icmp:
            report_icmp(tmp / "icmp", args.probes, args.rounds)
        report_bytes(tmp / "bytes")
    return 0


def report_rss(tmp: Path) -> None:
    tmp.mkdir()
    start, idle, bare = idle_rss(tmp)
    print("1. idle RSS, configs/local.toml jobs (each run once, then idle)")
    print(f"   daemon at start     {start:6.1f} MB")
    print(
        f"   daemon idle         {idle:6.1f} MB   target ≤ {RSS_TARGET_MB:.0f} MB "
        f"({idle / RSS_TARGET_MB:.2f}× target)"
    )
    print(f"   peer: python+sqlite3 {bare:5.1f} MB   daemon/peer {idle / bare:.2f}×")


def report_cpu(tmp: Path) -> None:
    tmp.mkdir()
    data = cpu_per_hour(tmp)
    print("2. CPU per hour, configs/local.toml schedule without throughput jobs")
    total = 0.0
    for name, interval, cpu, status in data["jobs"]:
        per_hour = cpu * 3600 / interval
        total += per_hour
        runs = 3600 / interval
        print(f"   {name:24s} {cpu:6.3f} s/run × {runs:5.1f}/h = {per_hour:6.2f} s/h ({status})")
    idle_cpu, idle_wall = data["idle"]
    idle_hour = idle_cpu * 3600 / idle_wall
    total += idle_hour
    print(
        f"   idle                     {idle_cpu:6.3f} s in {idle_wall:.0f} s → {idle_hour:6.2f} s/h"
    )
    pct = total / 3600 * 100
    print(
        f"   total {total:6.1f} s/h = {pct:.2f} % of one core   target ≤ {CPU_TARGET_PCT:.0f} % "
        f"({pct / CPU_TARGET_PCT:.2f}× target)"
    )


def report_icmp(tmp: Path, probes: int, rounds: int) -> None:
    tmp.mkdir()
    result = icmp_cpu(tmp, probes, rounds)
    print(f"3. CPU per {probes:,} ICMP probes at 1 ms to 127.0.0.1 ({rounds} alternating rounds)")
    if isinstance(result, str):
        print(f"   skipped: {result}")
        return
    for ours, fping, received, fping_received in result:
        ratio = ours / fping if fping > 0 else float("inf")
        print(
            f"   icmp collector {ours:6.3f} s ({received} replies)   "
            f"peer: fping {fping:6.3f} s ({fping_received} replies)   ratio {ratio:.2f}×"
        )
    ours_median = statistics.median(r[0] for r in result)
    fping_median = statistics.median(r[1] for r in result)
    ratio = ours_median / fping_median if fping_median > 0 else float("inf")
    paired = statistics.median(r[0] / r[1] if r[1] > 0 else float("inf") for r in result)
    print(
        f"   median: icmp collector {ours_median:6.3f} s, fping {fping_median:6.3f} s, "
        f"ratio {ratio:.2f}× (median of the rounds' ratios {paired:.2f}×)   "
        f"target ≤ {ICMP_TARGET}×"
    )


def report_bytes(tmp: Path) -> None:
    tmp.mkdir()
    counted = counted_bytes(tmp)
    for label, config, link in (
        ("configs/local.toml, loopback: IP bytes", LOCAL, 0),
        ("configs/agent.example.toml, Ethernet frames", EXAMPLE, ETH),
    ):
        print(f"4. bytes per day, {label} (enabled jobs, computed)")
        total = 0.0
        for name, per_run, runs, basis in bytes_per_day(config, link):
            line = f"   {name:26s} {per_run:12,.0f} B/run × {runs:5.0f}/day"
            if per_run == per_run:  # not NaN
                total += per_run * runs
                line += f" = {per_run * runs / 1e6:9.2f} MB/day  [{basis}]"
            else:
                line += f"   [{basis}]"
            if config == LOCAL and isinstance(counted, dict) and name in counted:
                n = counted[name]
                ratio = per_run / n if n else float("nan")
                line += f"; kernel counted {n:,} B/run (computed/counted {ratio:.2f})"
                if per_run != per_run:
                    line += f" = {n * runs / 1e9:.1f} GB/day on loopback"
            print(line)
        print(f"   total {total / 1e6:.2f} MB/day (throughput jobs not included)")
    if isinstance(counted, str):
        print(f"   kernel count skipped: {counted}")


if __name__ == "__main__":
    sys.exit(main())
