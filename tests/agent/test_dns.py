"""``dns`` collector against a real dnsmasq on loopback (RFC 1035).

dnsmasq never forwards upstream here: ``--no-resolv``, no ``/etc/hosts``, answers come from
``--address`` rules, and the only forwarding rule points to a loopback stub that answers
SERVFAIL (so that dnsmasq relays a real SERVFAIL to the collector).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos.records import Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector

dns_message = pytest.importorskip("dns.message", reason="dnspython (agent extra) not installed")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServfailStub:
    """A loopback 'upstream' that answers every query with SERVFAIL."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        import dns.rcode

        while not self.stop.is_set():
            try:
                data, source = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns_message.from_wire(data)
            response = dns_message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            self.sock.sendto(response.to_wire(), source)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None
    )
    if binary is None:
        pytest.skip("dnsmasq not installed (Debian package dnsmasq)")
    tmp = tmp_path_factory.mktemp("dnsmasq")
    stub = ServfailStub()
    port = free_udp_port()
    proc = subprocess.Popen(
        [
            binary,
            "--no-daemon",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            f"--pid-file={tmp / 'pid'}",
            "--cache-size=0",
            "--address=/example.test/198.18.0.1",
            "--address=/example.test/2001:db8::1",
            "--address=/nx.test/",
            f"--server=/fail.test/127.0.0.1#{stub.port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        target = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:  # ready when it answers
            m = _run(target, name="www.example.test", timeout="200ms", retries=0)
            if m.status is Status.OK:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read() if proc.stderr else ""
                pytest.skip(f"dnsmasq did not start: {err.strip()[-300:]}")
        yield target
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        stub.close()


def _run(target: str, **params: object):  # type: ignore[no-untyped-def]
    return run_collector(
        get("dns"), target, {k: str(v) for k, v in params.items()}, MeasureContext(agent_id="test")
    )


def test_noerror_per_query_type(dnsmasq: str) -> None:
    m = _run(dnsmasq, name="www.example.test", types="A,AAAA")
    assert m.status is Status.OK and m.error is None
    r = m.result
    assert r is not None and r.outcome == "NOERROR"
    assert set(r.phases_s) == {"A", "AAAA"}
    assert all(v is not None and 0 < v < 1.0 for v in r.phases_s.values())
    per = r.details["per_type"]
    assert per["A"]["answers"] == ["198.18.0.1"] and per["AAAA"]["answers"] == ["2001:db8::1"]
    assert per["A"]["attempts"] == 1


def test_nxdomain_is_an_outcome_not_a_failure(dnsmasq: str) -> None:
    m = _run(dnsmasq, name="host.nx.test")
    assert m.status is Status.OK and m.result is not None
    assert m.result.outcome == "NXDOMAIN" and m.result.phases_s["A"] is not None


def test_servfail_is_an_outcome(dnsmasq: str) -> None:
    m = _run(dnsmasq, name="host.fail.test", timeout="3s")
    assert m.status is Status.OK and m.result is not None
    assert m.result.outcome == "SERVFAIL"


def test_mixed_outcomes_are_named_per_type(dnsmasq: str) -> None:
    m = _run(dnsmasq, name="example.test", types="A,MX")
    assert m.result is not None
    # dnsmasq answers A from --address and refuses MX it has no data or upstream for
    assert m.result.outcome == "A=NOERROR MX=REFUSED"


def test_silent_resolver_times_out_after_retries() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        m = _run(target, name="www.example.test", timeout="150ms", retries=2)
        elapsed = time.monotonic() - start
        received = 0
        silent.settimeout(0.1)
        try:
            while True:
                silent.recv(512)
                received += 1
        except TimeoutError:
            pass
    assert m.status is Status.TIMEOUT and m.result is not None
    assert m.result.phases_s["A"] is None and m.result.outcome is None
    assert m.result.details["per_type"]["A"]["attempts"] == 3
    assert received == 3  # the retries really went out
    assert 0.45 <= elapsed < 2.0


def test_closed_port_is_unreachable() -> None:
    m = _run(f"127.0.0.1:{free_udp_port()}", name="www.example.test", timeout="1s")
    assert m.status is Status.UNREACHABLE and "refused" in (m.error or "").lower()


def test_bad_query_type_is_an_error_record() -> None:
    m = _run("127.0.0.1:53", types="NOTATYPE")
    assert m.status is Status.ERROR
