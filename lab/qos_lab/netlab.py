"""Ground-truth network lab: client — router — server namespaces with known impairments.

docs/methods.md §12 (no netem here): three network namespaces joined by veth pairs, IP
forwarding in the router, and per direction

* a rate limit with **tbf** on the router's egress interface (queue depth configurable, so a
  "deep queue" bottleneck is possible) — §12.2;
* random loss with **iptables** ``-m statistic --mode random`` in the router's FORWARD chain,
  matched on in/out interface (and optionally protocol) — §12.2;
* delay ± uniform jitter (plus optional drop and rate) from a userspace **TUN bridge**
  (:mod:`qos_lab.tunbridge`) that replaces the router–server veth when ``tun=True`` — §12.3.

Topology (interface names are the same in both variants; only the r1/s0 hop changes)::

    client ns            router ns                         server ns
    c0 198.18.1.2/24 ─── r0 198.18.1.1/24
                         r1 198.18.2.1/24 ── veth or TUN ── s0 198.18.2.2/24

"forward" is client → server (egress r1 in the router), "backward" is server → client
(egress r0).  Only 198.18.0.0/15 (RFC 2544 benchmarking range) is used and no namespace has
a default route, so nothing can leave the machine.

Namespace names are ``qlab-<pid>-<hex>-{c,r,s}``: unique per lab, and a lab whose creating
process is dead is "stale" and removed by :func:`cleanup_stale` (processes inside it are
killed first).  :meth:`Lab.close` removes everything the lab created even after a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

REPO_ROOT = Path(__file__).resolve().parents[2]
NS_PREFIX = "qlab-"
_NS_RE = re.compile(r"^qlab-(\d+)-([0-9a-f]+)-([crs])$")

CLIENT_ADDR = "198.18.1.2"
ROUTER_CLIENT_ADDR = "198.18.1.1"
ROUTER_SERVER_ADDR = "198.18.2.1"
SERVER_ADDR = "198.18.2.2"
CLIENT_NET = "198.18.1.0/24"
SERVER_NET = "198.18.2.0/24"

Direction = Literal["forward", "backward"]
DIRECTIONS: tuple[Direction, Direction] = ("forward", "backward")
#: router egress interface and iptables (in, out) interfaces per direction
EGRESS_DEV = {"forward": "r1", "backward": "r0"}
_IN_OUT = {"forward": ("r0", "r1"), "backward": ("r1", "r0")}
#: TUN bridge direction key (dev_a = r1 in the router, dev_b = s0 moved to the server)
_BRIDGE_KEY = {"forward": "a2b", "backward": "b2a"}

REQUIRED_TOOLS = ("ip", "tc", "iptables")


class LabError(RuntimeError):
    """A lab setup or control command failed (the message names the command)."""


def missing_requirements() -> list[str]:
    """Why the lab cannot run here (empty list: it can). Used by the pytest skip logic."""
    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append("needs root (network namespaces, tc, iptables)")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool, path=tool_path()) is None:
            problems.append(f"'{tool}' not found (Debian packages iproute2/iptables)")
    if not os.path.exists("/dev/net/tun"):
        problems.append("/dev/net/tun missing (modprobe tun)")
    return problems


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = 30.0, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raise :class:`LabError` naming it on failure."""
    try:
        proc = subprocess.run(
            list(argv),
            env=python_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise LabError(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.strip()}"
        )
    return proc


def ns_exec_argv(ns: str, argv: Sequence[str]) -> list[str]:
    """``ip netns exec NS argv...``"""
    return ["ip", "netns", "exec", ns, *argv]


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_ns_processes(ns: str) -> None:
    """Kill every process still inside namespace ``ns`` (processes our lab started)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [
            int(p)
            for p in run(["ip", "netns", "pids", ns], check=False).stdout.split()
            if p.isdigit()
        ]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
            time.sleep(0.02)


def delete_namespace(ns: str) -> None:
    _kill_ns_processes(ns)
    run(["ip", "netns", "delete", ns], check=False)


def cleanup_stale() -> list[str]:
    """Delete lab namespaces whose creating process no longer exists; returns their names."""
    removed = []
    for ns in list_namespaces():
        match = _NS_RE.match(ns)
        if match and not _pid_alive(int(match.group(1))):
            delete_namespace(ns)
            removed.append(ns)
    return removed


@dataclass(frozen=True, slots=True)
class Rate:
    """A tbf rate limit on one direction's router egress.

    ``queue_bytes`` is tbf's ``limit`` (bytes that may wait for tokens; a large value gives a
    "deep queue" with bufferbloat-like queueing delay).  ``burst_bytes`` defaults to
    max(rate·4 ms, 16 KiB) so that a 1000 Hz or 250 Hz kernel tick cannot starve the bucket.
    """

    rate_bps: float
    queue_bytes: int = 64_000
    burst_bytes: int | None = None

    @property
    def bucket_bytes(self) -> int:
        """tbf's ``burst``: the most that may leave at once after an idle period."""
        return self.burst_bytes or max(int(self.rate_bps * 0.004 / 8), 16_384)

    def tc_args(self) -> list[str]:
        burst = self.bucket_bytes
        return [
            "tbf",
            "rate",
            f"{int(self.rate_bps)}bit",
            "burst",
            str(burst),
            "limit",
            str(self.queue_bytes),
        ]


@dataclass(frozen=True, slots=True)
class Delay:
    """TUN-bridge impairment of one direction: delay ± uniform jitter, drop, rate."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0
    rate_bps: float = 0.0
    queue_bytes: int = 1_000_000
    fifo: bool = True  # False lets packets overtake each other (reordering, like netem)

    def as_json(self) -> dict[str, float | int | bool]:
        return {
            "delay_s": self.delay_s,
            "jitter_s": self.jitter_s,
            "loss": self.loss,
            "rate_bps": self.rate_bps,
            "queue_bytes": self.queue_bytes,
            "fifo": self.fifo,
        }


@dataclass(frozen=True, slots=True)
class BridgeLog:
    """Per direction and packet (arrival order): the delay the TUN bridge applied, and how
    late it wrote the packet after the release its model scheduled (``None`` = dropped or
    still queued).  ``applied − late`` is the model's delay: set delay + jitter draw."""

    applied: dict[str, list[float | None]]
    late: dict[str, list[float | None]]

    def scheduled(self, direction: str) -> list[float | None]:
        """The delays the model chose (applied minus lateness) for ``direction``."""
        return [
            None if a is None or t is None else a - t
            for a, t in zip(self.applied[direction], self.late[direction], strict=True)
        ]


class Lab:
    """Three namespaces client — router — server; use as a context manager.

    ``tun=True`` puts the TUN bridge on the router–server hop (needed for delay/jitter);
    ``tun=False`` uses a plain veth there (faster: use it for throughput tests).
    """

    client_addr = CLIENT_ADDR
    server_addr = SERVER_ADDR
    router_client_addr = ROUTER_CLIENT_ADDR
    router_server_addr = ROUTER_SERVER_ADDR

    def __init__(
        self, *, tun: bool = False, realtime_bridge: bool = False, bridge_seed: int | None = None
    ) -> None:
        self.tun = tun
        self.realtime_bridge = realtime_bridge
        self.bridge_seed = bridge_seed
        tag = f"{NS_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.client_ns = f"{tag}-c"
        self.router_ns = f"{tag}-r"
        self.server_ns = f"{tag}-s"
        self._processes: list[subprocess.Popen[str]] = []
        self._named: dict[str, subprocess.Popen[str]] = {}
        self._bridge: subprocess.Popen[str] | None = None
        self._created: list[str] = []
        self._delays: dict[str, Delay] = {d: Delay() for d in DIRECTIONS}
        self._started = False

    # life cycle ------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Lab:
        problems = missing_requirements()
        if problems:
            raise LabError("lab cannot run here: " + "; ".join(problems))
        cleanup_stale()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        self._started = True
        return self

    def close(self) -> None:
        """Stop every process and delete every namespace this lab created (idempotent)."""
        for proc in reversed(self._processes):
            _stop_process(proc)
        self._processes.clear()
        self._named.clear()
        if self._bridge is not None:
            _stop_process(self._bridge)
            self._bridge = None
        for ns in reversed(self._created):
            delete_namespace(ns)
        self._created.clear()
        self._started = False

    def _ip(self, ns: str, *args: str) -> None:
        run(["ip", "-n", ns, *args])

    def _sysctl(self, ns: str, key: str, value: str) -> None:
        run(ns_exec_argv(ns, ["sysctl", "-q", "-w", f"{key}={value}"]))

    def _build(self) -> None:
        for ns in (self.client_ns, self.router_ns, self.server_ns):
            run(["ip", "netns", "add", ns])
            self._created.append(ns)
            self._ip(ns, "link", "set", "lo", "up")
            # no IPv6 chatter (router solicitations, DAD) through the emulated links
            self._sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
            self._sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
        self._sysctl(self.router_ns, "net.ipv4.ip_forward", "1")
        # client <-> router veth (created inside the namespaces: no host-side names)
        self._ip(
            self.router_ns,
            "link",
            "add",
            "r0",
            "type",
            "veth",
            "peer",
            "name",
            "c0",
            "netns",
            self.client_ns,
        )
        if self.tun:
            self._start_bridge()
        else:
            self._ip(
                self.router_ns,
                "link",
                "add",
                "r1",
                "type",
                "veth",
                "peer",
                "name",
                "s0",
                "netns",
                self.server_ns,
            )
        self._ip(self.client_ns, "addr", "add", f"{CLIENT_ADDR}/24", "dev", "c0")
        self._ip(self.router_ns, "addr", "add", f"{ROUTER_CLIENT_ADDR}/24", "dev", "r0")
        self._ip(self.router_ns, "addr", "add", f"{ROUTER_SERVER_ADDR}/24", "dev", "r1")
        self._ip(self.server_ns, "addr", "add", f"{SERVER_ADDR}/24", "dev", "s0")
        for ns, dev in (
            (self.client_ns, "c0"),
            (self.router_ns, "r0"),
            (self.router_ns, "r1"),
            (self.server_ns, "s0"),
        ):
            self._ip(ns, "link", "set", dev, "up")
        self._ip(self.client_ns, "route", "add", SERVER_NET, "via", ROUTER_CLIENT_ADDR)
        if self.tun:
            # TUN is layer 3 without ARP: route the client subnet straight into the device
            self._ip(self.server_ns, "route", "add", CLIENT_NET, "dev", "s0")
        else:
            self._ip(self.server_ns, "route", "add", CLIENT_NET, "via", ROUTER_SERVER_ADDR)

    def _start_bridge(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "qos_lab.tunbridge",
            "r1",
            "s0",
            "--a2b",
            json.dumps(self._delays["forward"].as_json()),
            "--b2a",
            json.dumps(self._delays["backward"].as_json()),
        ]
        if self.realtime_bridge:
            argv.append("--realtime")
        if self.bridge_seed is not None:
            argv += ["--seed", str(self.bridge_seed)]
        proc = subprocess.Popen(
            ns_exec_argv(self.router_ns, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=python_env(),
            start_new_session=True,
        )
        self._bridge = proc
        line = _readline(proc.stdout, 10.0)
        if line.strip() != "READY":
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            raise LabError(f"TUN bridge did not start: {line!r} {err}")
        # move the server end into the server namespace; the bridge's fd keeps working
        self._ip(self.router_ns, "link", "set", "s0", "netns", self.server_ns)

    def _bridge_command(self, line: str) -> str:
        proc = self._bridge
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise LabError("this lab has no TUN bridge (create it with Lab(tun=True))")
        if proc.poll() is not None:
            raise LabError(f"TUN bridge exited with {proc.returncode}")
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        return _readline(proc.stdout, 5.0).strip()

    # impairments -----------------------------------------------------------------------
    def set_rate(self, direction: Direction, rate: Rate | None) -> None:
        """tbf on the router egress of ``direction``; ``None`` removes it."""
        dev = EGRESS_DEV[_check_direction(direction)]
        if rate is None:
            run(
                ns_exec_argv(self.router_ns, ["tc", "qdisc", "del", "dev", dev, "root"]),
                check=False,
            )
            return
        run(
            ns_exec_argv(
                self.router_ns, ["tc", "qdisc", "replace", "dev", dev, "root", *rate.tc_args()]
            )
        )

    def set_loss(
        self, direction: Direction, probability: float, protocol: str | None = None
    ) -> None:
        """Random drop with ``iptables -m statistic`` in the router FORWARD chain.

        Replaces any earlier loss rule of this direction (and zeroes its counters, see
        :meth:`loss_counters`); ``probability`` 0 removes it.  ``protocol`` (e.g. ``"udp"``,
        ``"icmp"``) restricts the rule — and the "seen" counter — to that protocol.
        """
        _check_direction(direction)
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be in [0, 1]")
        chain = _loss_chain(direction)
        in_dev, out_dev = _IN_OUT[direction]
        ipt = self._iptables()
        if run([*ipt, "-n", "-L", chain], check=False).returncode != 0:
            run([*ipt, "-N", chain])
        # drop the old jump (whatever its protocol) and add the new one: fresh counters
        for line in run([*ipt, "-S", "FORWARD"]).stdout.splitlines():
            if line.startswith("-A FORWARD") and line.endswith(f"-j {chain}"):
                run([*ipt, "-D", *line.split()[1:]])
        run([*ipt, "-F", chain])
        run([*ipt, "-Z", chain])
        if probability <= 0.0:
            return
        jump = ["-A", "FORWARD", "-i", in_dev, "-o", out_dev]
        if protocol:
            jump += ["-p", protocol]
        run([*ipt, *jump, "-j", chain])
        if probability >= 1.0:
            run([*ipt, "-A", chain, "-j", "DROP"])
        else:
            run(
                [
                    *ipt,
                    "-A",
                    chain,
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    f"{probability:.10f}",
                    "-j",
                    "DROP",
                ]
            )

    def loss_counters(self) -> dict[str, dict[str, int]]:
        """Ground truth of the iptables loss rules: packets ``seen`` and ``dropped`` per direction.

        ``seen`` counts packets of the matched protocol entering the loss chain since the
        last :meth:`set_loss` of that direction; ``dropped`` those the random rule dropped.
        Directions without a loss rule report zeros.
        """
        out: dict[str, dict[str, int]] = {}
        ipt = self._iptables()
        forward = run([*ipt, "-n", "-v", "-x", "-L", "FORWARD"]).stdout
        for direction in DIRECTIONS:
            chain = _loss_chain(direction)
            seen = sum(
                _pkts(line)
                for line in forward.splitlines()
                if len(line.split()) > 2 and line.split()[2] == chain
            )
            proc = run([*ipt, "-n", "-v", "-x", "-L", chain], check=False)
            dropped = sum(
                _pkts(line)
                for line in proc.stdout.splitlines()
                if len(line.split()) > 2 and line.split()[2] == "DROP"
            )
            out[direction] = {"seen": seen, "dropped": dropped}
        return out

    def udp_counters(self, ns: str) -> dict[str, int]:
        """The kernel's UDP counters of namespace ``ns`` (``/proc/net/snmp``, per namespace):
        e.g. ``RcvbufErrors``, datagrams dropped because a receiving socket's buffer was full
        (a receiver that a busy host did not schedule in time)."""
        lines = [
            line.split()
            for line in self.exec_in(ns, ["cat", "/proc/net/snmp"], check=True).stdout.splitlines()
            if line.startswith("Udp:")
        ]
        if len(lines) < 2:
            raise LabError(f"no Udp counters in /proc/net/snmp of {ns}")
        return {name: int(value) for name, value in zip(lines[0][1:], lines[1][1:], strict=True)}

    def _iptables(self) -> list[str]:
        return ["ip", "netns", "exec", self.router_ns, "iptables", "-w"]

    def set_blackhole(self, on: bool = True) -> None:
        """Drop everything forwarded by the router in both directions (or undo it)."""
        ipt = self._iptables()
        rule = ["FORWARD", "-m", "comment", "--comment", "qlab-blackhole", "-j", "DROP"]
        present = run([*ipt, "-C", *rule], check=False).returncode == 0
        if on and not present:
            run([*ipt, "-I", *rule])
        elif not on and present:
            run([*ipt, "-D", *rule])

    def set_delay(self, direction: Direction, delay: Delay) -> None:
        """Delay ± uniform jitter (and optional drop/rate) of ``direction`` in the TUN bridge."""
        key = _BRIDGE_KEY[_check_direction(direction)]
        answer = self._bridge_command(json.dumps({key: delay.as_json()}))
        if answer != "OK":
            raise LabError(f"TUN bridge refused {delay}: {answer}")
        self._delays[direction] = delay

    def seed_bridge(self, seed: int) -> None:
        """Restart the TUN bridge's random generators from ``seed`` (drop and jitter draws
        from here on are :func:`qos_lab.tunbridge.drop_pattern`'s, packet for packet)."""
        answer = self._bridge_command(f"SEED {int(seed)}")
        if answer != "OK":
            raise LabError(f"TUN bridge refused SEED {seed}: {answer}")

    def set_bridge_realtime(self, on: bool) -> None:
        """Run the TUN bridge under SCHED_FIFO (``on``) or normal scheduling, e.g. for the
        span of a test that compares a peer's per-packet delays with the bridge's log
        (:func:`qos_lab.tunbridge._set_realtime` says why); :meth:`reset` restores the
        scheduling the lab was created with."""
        answer = self._bridge_command(f"REALTIME {1 if on else 0}")
        if answer != "OK":
            raise LabError(f"TUN bridge cannot switch SCHED_FIFO {'on' if on else 'off'}: {answer}")

    def bridge_stats(self) -> dict[str, dict[str, float]]:
        """Counters of the TUN bridge per direction (forward/backward)."""
        data = json.loads(self._bridge_command("STATS"))
        return {d: data[_BRIDGE_KEY[d]] for d in DIRECTIONS}

    def bridge_log(self) -> dict[str, list[float | None]]:
        """Delay the TUN bridge actually applied to each packet since the last call.

        Per direction, in arrival order: seconds from reading the packet to writing it
        out (``None`` = dropped by the bridge, or still in its delay line at the call).
        This is the realised ground truth (nominal delay + jitter draw + the bridge's own
        scheduling lateness); calling it clears the log.  Logging stops after 500 000
        packets per direction.
        """
        return self.bridge_log_detail().applied

    def bridge_log_detail(self) -> BridgeLog:
        """:meth:`bridge_log` together with each packet's lateness (clears the log too)."""
        data = json.loads(self._bridge_command("LOG"))
        applied: dict[str, list[float | None]] = {}
        late: dict[str, list[float | None]] = {}
        for d in DIRECTIONS:
            entry = data[_BRIDGE_KEY[d]]
            if entry["truncated"]:
                raise LabError(f"bridge log of {d} was truncated (too many packets)")
            applied[d] = entry["delays_s"]
            late[d] = entry["late_s"]
        return BridgeLog(applied=applied, late=late)

    def reset(self) -> None:
        """Remove every impairment (rate, loss, blackhole, bridge delay)."""
        for d in DIRECTIONS:
            self.set_rate(d, None)
            self.set_loss(d, 0.0)
            if self._bridge is not None:
                self.set_delay(d, Delay())
        self.set_blackhole(False)
        if self._bridge is not None:
            self.set_bridge_realtime(self.realtime_bridge)
            self.bridge_log()  # start the next test with an empty log

    # commands and processes ------------------------------------------------------------
    def exec_in(
        self, ns: str, argv: Sequence[str], *, timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return run(ns_exec_argv(ns, argv), check=check, timeout=timeout)

    def exec_client(
        self, argv: Sequence[str], *, timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the client namespace and wait for it."""
        return self.exec_in(self.client_ns, argv, timeout=timeout, check=check)

    def exec_server(
        self, argv: Sequence[str], *, timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return self.exec_in(self.server_ns, argv, timeout=timeout, check=check)

    def spawn(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdout: int | IO[str] | None = subprocess.DEVNULL,
        stderr: int | IO[str] | None = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        """Start a long-running process inside ``ns``; stopped by :meth:`close`."""
        proc = subprocess.Popen(
            ns_exec_argv(ns, argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            text=True,
            cwd=REPO_ROOT,
            env=dict(env) if env is not None else python_env(),
            start_new_session=True,
        )
        self._processes.append(proc)
        return proc

    def spawn_server(
        self,
        argv: Sequence[str],
        *,
        wait_port: tuple[str, int] | None = None,
        name: str | None = None,
        **kwargs: object,
    ) -> subprocess.Popen[str]:
        """Start a server inside the server namespace, optionally waiting for its port.

        ``wait_port=("udp"|"tcp", port)`` polls ``ss`` in the server namespace until the
        socket is bound (at most 5 s).  With ``name``, a server of that name that is still
        running is reused instead of started twice (handy with the shared fixtures).
        """
        if name is not None:
            running = self._named.get(name)
            if running is not None and running.poll() is None:
                return running
        proc = self.spawn(self.server_ns, argv, **kwargs)  # type: ignore[arg-type]
        if wait_port is not None:
            self.wait_listening(self.server_ns, *wait_port, proc=proc)
        if name is not None:
            self._named[name] = proc
        return proc

    def spawn_client(self, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        return self.spawn(self.client_ns, argv, **kwargs)  # type: ignore[arg-type]

    def stop(self, proc: subprocess.Popen[str]) -> None:
        """Stop one process started by :meth:`spawn` before the lab closes."""
        _stop_process(proc)
        if proc in self._processes:
            self._processes.remove(proc)

    def wait_listening(
        self,
        ns: str,
        proto: str,
        port: int,
        *,
        timeout: float = 5.0,
        proc: subprocess.Popen[str] | None = None,
    ) -> None:
        flag = "-uln" if proto == "udp" else "-tln"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = run(ns_exec_argv(ns, ["ss", "-H", flag, f"sport = :{port}"]), check=False).stdout
            if out.strip():
                return
            if proc is not None and proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise LabError(f"server exited with {proc.returncode} before listening: {err}")
            time.sleep(0.05)
        raise LabError(f"nothing listening on {proto} port {port} in {ns} after {timeout}s")

    def set_ping_group_range(self, ns: str, value: str = "0 2147483647") -> None:
        """Allow unprivileged ICMP sockets inside ``ns`` only (docs/methods.md §12.4)."""
        self._sysctl(ns, "net.ipv4.ping_group_range", value)

    def python_client(
        self, args: Sequence[str], *, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python args...`` (the venv interpreter, repo on PYTHONPATH) in the client ns."""
        argv = ns_exec_argv(self.client_ns, ["env", *_env_assignments(), sys.executable, *args])
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=REPO_ROOT,
                check=False,
                env=python_env(),
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
        if check and proc.returncode != 0:
            raise LabError(
                f"python in client namespace failed ({proc.returncode}): "
                f"{' '.join(args)}\n{proc.stderr.strip()}"
            )
        return proc

    def agent_cli(
        self, args: Sequence[str], *, timeout: float = 120.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``qos-agent args...`` in the client namespace (e.g. ``["once", "icmp", addr]``)."""
        return self.python_client(["-m", "qos_agent.cli", *args], timeout=timeout, check=check)

    def run_collector(
        self,
        collector: str,
        target: str,
        params: Mapping[str, object] | None = None,
        *,
        timeout: float = 120.0,
    ) -> object:
        """Run one collector in the client namespace; returns a ``qos.records.Measurement``."""
        from qos import serialization

        args = ["-m", "qos_lab.runner", collector, target]
        for key, value in (params or {}).items():
            args += ["--param", f"{key}={value}"]
        proc = self.python_client(args, timeout=timeout)
        return serialization.loads(proc.stdout)


def tool_path() -> str:
    """PATH plus /usr/sbin and /sbin: ip/tc/iptables live there and CI's PATH may lack them."""
    parts = os.environ.get("PATH", os.defpath).split(os.pathsep)
    parts += [d for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin") if d not in parts]
    return os.pathsep.join(parts)


def python_env() -> dict[str, str]:
    """Environment of every lab subprocess: sbin on PATH, the repo on PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = tool_path()
    env.update(dict(a.split("=", 1) for a in _env_assignments()))
    return env


def _env_assignments() -> list[str]:
    paths = [str(REPO_ROOT / d) for d in (".", "agent", "analysis", "lab")]
    return [f"PYTHONPATH={os.pathsep.join(paths)}", "PYTHONDONTWRITEBYTECODE=1"]


def _loss_chain(direction: str) -> str:
    return f"QLAB_LOSS_{direction.upper()}"


def _pkts(line: str) -> int:
    first = line.split()[0] if line.split() else ""
    return int(first) if first.isdigit() else 0


def _check_direction(direction: str) -> Direction:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    return direction  # type: ignore[return-value]


def _readline(stream: IO[str] | None, timeout: float) -> str:
    import select

    if stream is None:
        return ""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


def _stop_process(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=3.0)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
