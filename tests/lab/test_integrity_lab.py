"""Integrity collectors through a manipulating router (docs/methods.md §13).

The server namespace runs ``qos-agent server --integrity`` (HTTP echo on 80, TLS on 443,
DNS zone on 53, banner ports); the router runs the manipulations a network applies:
dnsmasq with an address override and NXDOMAIN rewriting, tinyproxy as a transparent proxy
(iptables REDIRECT of port 80) adding a header, iptables DROP and REJECT ``tcp-reset`` on
chosen ports, and a TLS-intercepting relay with its own CA (lab/qos_lab/tls_mitm.py, port 443
REDIRECTed).  Each manipulation must be named by its collector with the evidence; on the
clean path the four collectors must report no manipulation in 100 of 100 runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qos_lab.netlab import Lab, run

pytestmark = pytest.mark.lab
pytest.importorskip("dns.message", reason="dnspython (agent extra) not installed")
pytest.importorskip("cryptography.x509", reason="cryptography (agent extra) not installed")

REFERENCE = "http://198.18.2.2"
RESOLVER = "198.18.1.1:53"
TAG = ["-m", "comment", "--comment", "qlab-integrity"]
LISTEN_TCP = "25,465,587,993,1194,5060,51820"
LISTEN_UDP = "1194,5060,51820"


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{name} not installed (Debian package {name}; .ci/install-system-packages)")
    return path


@pytest.fixture
def ilab(shared_lab: Lab) -> Iterator[Lab]:
    """The shared lab with the integrity reference running; router manipulations removed."""
    argv = [sys.executable, "-m", "qos_agent.cli", "server", "--bind", shared_lab.server_addr]
    argv += ["--port", "8080", "--integrity", "--integrity-port", "80", "--tls-port", "443"]
    argv += ["--dns-port", "53", "--listen-tcp", LISTEN_TCP, "--listen-udp", LISTEN_UDP]
    shared_lab.spawn_server(argv, wait_port=("tcp", 80), name="integrity-reference")
    shared_lab.wait_listening(shared_lab.server_ns, "tcp", 443)
    shared_lab.wait_listening(shared_lab.server_ns, "udp", 53)
    _router_processes.clear()
    yield shared_lab
    for proc in _router_processes:
        shared_lab.stop(proc)
    ipt = ["ip", "netns", "exec", shared_lab.router_ns, "iptables", "-w"]
    for table in ("filter", "nat"):
        for line in run([*ipt, "-t", table, "-S"]).stdout.splitlines():
            if "qlab-integrity" in line and line.startswith("-A "):
                run([*ipt, "-t", table, "-D", *_split(line)[1:]])


def _split(rule: str) -> list[str]:
    import shlex

    return shlex.split(rule)


_router_processes: list[subprocess.Popen[str]] = []


def on_router(lab: Lab, argv: list[str], port: tuple[str, int]) -> subprocess.Popen[str]:
    """Start ``argv`` in the router namespace until the test ends; wait for its port."""
    proc = lab.spawn(lab.router_ns, argv)
    _router_processes.append(proc)
    lab.wait_listening(lab.router_ns, *port, proc=proc)
    return proc


def iptables(lab: Lab, *rule: str) -> None:
    run(["ip", "netns", "exec", lab.router_ns, "iptables", "-w", *rule, *TAG])


def dnsmasq(lab: Lab, tmp: Path, *rules: str) -> subprocess.Popen[str]:
    argv = [_tool("dnsmasq"), "--no-daemon", "--port=53", f"--listen-address={RESOLVER[:-3]}"]
    argv += ["--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null"]
    argv += [f"--pid-file={tmp / 'dnsmasq.pid'}", "--server=/integrity.qos.test/198.18.2.2"]
    return on_router(lab, [*argv, *rules], ("udp", 53))


def runs(lab: Lab, count: int, *only: str, **params: str) -> list[dict[str, Any]]:
    args = ["-m", "qos_lab.integrity_runs", REFERENCE, "--resolver", RESOLVER]
    args += ["--runs", str(count), *[a for name in only for a in ("--only", name)]]
    args += [a for key, value in params.items() for a in ("--param", f"{key}={value}")]
    proc = lab.python_client(args, timeout=600)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def named(record: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    assert record["status"] == "ok", record
    assert record["outcome"] == "manipulated", record
    return {(f["kind"], f["subject"]): f for f in record["findings"]}


def test_clean_path_no_manipulation_in_100_of_100_runs(ilab: Lab, tmp_path: Path) -> None:
    dnsmasq(ilab, tmp_path, "--cache-size=0")
    records = runs(ilab, 100)
    by_collector: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_collector.setdefault(record["collector"], []).append(record)
    assert {k: len(v) for k, v in by_collector.items()} == {
        "dns_integrity": 100,
        "http_integrity": 100,
        "port_reachability": 100,
        "tls_integrity": 100,
    }
    dirty = [r for r in records if r["status"] != "ok" or r["outcome"] != "clean"]
    assert dirty == []  # false positives: 0 of 400


def test_dnsmasq_override_and_nxdomain_rewriting_are_named(ilab: Lab, tmp_path: Path) -> None:
    dnsmasq(
        ilab,
        tmp_path,
        "--cache-size=0",
        "--address=/a.integrity.qos.test/10.66.0.1",
        "--address=/absent.integrity.qos.test/198.51.100.7",
    )
    (record,) = runs(ilab, 1, "dns_integrity")
    got = named(record)
    changed = got[("answer_changed", "a.integrity.qos.test. A")]
    assert "192.0.2.1" in changed["expected"] and "10.66.0.1" in changed["observed"]
    rewritten = [f for (kind, _), f in got.items() if kind == "nxdomain_rewritten"]
    assert len(rewritten) == 1 and "198.51.100.7" in rewritten[0]["observed"]
    assert rewritten[0]["expected"].startswith("NXDOMAIN")


def test_transparent_tinyproxy_is_named_by_its_headers(ilab: Lab, tmp_path: Path) -> None:
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(
        "User nobody\nGroup nogroup\nPort 8888\nListen 198.18.1.1\nTimeout 10\n"
        'MaxClients 20\nLogLevel Error\nAddHeader "X-ISP-Tag" "lab-proxy"\n'
    )
    on_router(ilab, [_tool("tinyproxy"), "-d", "-c", str(conf)], ("tcp", 8888))
    iptables(
        ilab,
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-i",
        "r0",
        "-p",
        "tcp",
        "--dport",
        "80",
        "-j",
        "REDIRECT",
        "--to-ports",
        "8888",
    )
    (record,) = runs(ilab, 1, "http_integrity")
    got = named(record)
    assert got[("request_header_added", "X-ISP-Tag")]["observed"] == "X-ISP-Tag: lab-proxy"
    via = [f for (kind, subject), f in got.items() if (kind, subject) == ("proxy_header", "Via")]
    assert via and "tinyproxy" in via[0]["observed"]


def test_dropped_and_reset_ports_are_named(ilab: Lab, tmp_path: Path) -> None:
    iptables(ilab, "-A", "FORWARD", "-i", "r0", "-p", "tcp", "--dport", "25", "-j", "DROP")
    iptables(
        ilab,
        "-A",
        "FORWARD",
        "-i",
        "r0",
        "-p",
        "tcp",
        "--dport",
        "5060",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    )
    iptables(ilab, "-A", "FORWARD", "-i", "r0", "-p", "udp", "--dport", "51820", "-j", "DROP")
    (record,) = runs(ilab, 1, "port_reachability", **{"port_reachability.timeout": "1s"})
    got = named(record)
    assert set(got) == {
        ("port_blocked", "tcp/25"),
        ("port_reset", "tcp/5060"),
        ("port_blocked", "udp/51820"),
    }
    assert "Connection refused" in got[("port_reset", "tcp/5060")]["observed"]


def test_intercepting_tls_proxy_is_named(ilab: Lab, tmp_path: Path) -> None:
    fetch = (
        "import urllib.request;"
        f"print(urllib.request.urlopen('{REFERENCE}/manifest').read().decode())"
    )
    pin = json.loads(ilab.python_client(["-c", fetch]).stdout)["tls"]["spki_sha256"]
    mitm = [sys.executable, "-m", "qos_lab.tls_mitm", "--listen", "198.18.1.1:8443"]
    on_router(ilab, [*mitm, "--upstream", "198.18.2.2:443"], ("tcp", 8443))
    iptables(
        ilab,
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-i",
        "r0",
        "-p",
        "tcp",
        "--dport",
        "443",
        "-j",
        "REDIRECT",
        "--to-ports",
        "8443",
    )
    (record,) = runs(ilab, 1, "tls_integrity", **{"tls_integrity.pin_sha256": pin})
    kinds = {kind: f for (kind, _), f in named(record).items()}
    assert set(kinds) == {"spki_mismatch", "tls_downgraded", "tls_version_differs", "sni_stripped"}
    assert "Lab Interception CA" in kinds["spki_mismatch"]["subject"]
    assert kinds["spki_mismatch"]["expected"] == pin != kinds["spki_mismatch"]["observed"]
    assert kinds["tls_downgraded"]["observed"] == "TLSv1.2"
