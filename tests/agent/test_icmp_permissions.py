"""ICMP socket modes: raw when privileged, datagram when ping_group_range allows, else a reason.

Each case runs the real CLI in its own network namespace (``ping_group_range`` is per
namespace, docs/methods.md §12.4) with CAP_NET_RAW removed from the bounding set, so the
host's settings are never touched.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.agent.conftest import cli_argv, cli_env

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux setpriv")


def _run_without_net_raw(ns: str, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", ns, "setpriv", "--bounding-set=-net_raw", *cli_argv(*args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=cli_env(tmp_path))


def test_datagram_icmp_used_when_ping_group_range_allows(isolated_netns, tmp_path) -> None:
    ns = isolated_netns()
    subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"],
        check=True,
    )
    proc = _run_without_net_raw(
        ns,
        tmp_path,
        "once",
        "icmp",
        "127.0.0.1",
        "--param",
        "count=20",
        "--param",
        "interval=5ms",
        "--json",
        "--no-store",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["result"]["details"]["socket"] == "datagram"
    assert doc["summary"]["received"] == 20
    fields = doc["result"]["probe_fields"]
    ttls = {dict(zip(fields, row, strict=True))["ttl"] for row in doc["result"]["probes"]}
    assert ttls == {64}  # read from IP_RECVTTL ancillary data


def test_without_any_icmp_permission_list_and_once_explain_why(isolated_netns, tmp_path) -> None:
    ns = isolated_netns()
    subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ping_group_range=1 0"], check=True
    )
    proc = _run_without_net_raw(ns, tmp_path, "list", "--json")
    assert proc.returncode == 0, proc.stderr
    icmp = next(r for r in json.loads(proc.stdout) if r["name"] == "icmp")
    assert icmp["can_run"] is False
    reason = " ".join(icmp["reasons"])
    assert "CAP_NET_RAW" in reason and "ping_group_range" in reason
    proc = _run_without_net_raw(ns, tmp_path, "once", "icmp", "127.0.0.1", "--json", "--no-store")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["status"] == "skipped" and "ping_group_range" in doc["error"]
