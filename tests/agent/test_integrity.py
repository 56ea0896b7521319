"""Integrity collectors against the loopback integrity reference, clean and manipulated.

The manipulated paths are real relays (tests/agent/integrity_tamper.py) and a real
dnsmasq; the lab (tests/lab/test_integrity_lab.py) repeats this through a router namespace.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qos.records import Measurement, Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.collectors.port_reachability import judge
from qos_agent.integrity.known import KNOWN_BODY, ZONE_TTL_S
from qos_agent.refserver.integrity import IntegrityReference, start_integrity_reference
from tests.agent import integrity_tamper as tamper

pytest.importorskip("dns.message", reason="dnspython (agent extra) not installed")
pytest.importorskip("cryptography.x509", reason="cryptography (agent extra) not installed")


@pytest.fixture(scope="module")
def ref() -> Iterator[IntegrityReference]:
    running = start_integrity_reference()
    yield running
    running.stop()


def run(collector: str, target: str, **params: Any) -> Measurement:
    return run_collector(
        get(collector), target, {k: str(v) for k, v in params.items()}, MeasureContext("test")
    )


def findings(m: Measurement) -> list[dict[str, Any]]:
    assert m.status is Status.OK, m.error
    assert m.result is not None
    return list(m.result.details["findings"])


def kinds(m: Measurement) -> set[str]:
    return {f["kind"] for f in findings(m)}


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed() -> Iterator[int]:
    """A TCP port bound but not listening: held for the test, connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def own_resolver(ref: IntegrityReference) -> str:
    return f"127.0.0.1:{ref.manifest['dns']['port']}"


# clean path -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["http_integrity", "port_reachability", "tls_integrity"])
def test_clean_loopback_path_reports_no_manipulation(
    ref: IntegrityReference, name: str, closed: int
) -> None:
    params = {"ports": str(closed)} if name == "port_reachability" else {}
    m = run(name, ref.url, **params)
    assert findings(m) == [] and m.result is not None and m.result.outcome == "clean"


def test_echo_returns_the_request_head_byte_for_byte(ref: IntegrityReference) -> None:
    head = b"GET /echo HTTP/1.1\r\nhOsT: x\r\nZ-Last:  two  spaces\r\nA-First: 1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", int(ref.url.rsplit(":", 1)[1]))) as s:
        s.sendall(head)
        reply = tamper._read_all(s)
    assert reply.endswith(b"\r\n\r\n" + head)
    with socket.create_connection(("127.0.0.1", int(ref.url.rsplit(":", 1)[1]))) as s:
        s.sendall(b"GET /known HTTP/1.1\r\nHost: x\r\n\r\n")
        assert tamper._read_all(s).endswith(b"\r\n\r\n" + KNOWN_BODY)


def test_port_closed_on_the_server_is_not_a_finding(ref: IntegrityReference, closed: int) -> None:
    m = run("port_reachability", ref.url, ports=str(closed), timeout="1s")
    assert findings(m) == []
    ports = m.result.details["ports"]  # type: ignore[union-attr]
    assert ports[f"tcp/{closed}"] == {
        "listening": False,
        "seen": "reset",
        "evidence": "connect: Connection refused",
    }
    for port in ref.manifest["tcp_listening"] + ref.manifest["tcp_services"]:
        assert ports[f"tcp/{port}"]["seen"] == "open"
    for port in ref.manifest["udp_echo"]:
        assert ports[f"udp/{port}"]["seen"] == "open"


# unreachable reference --------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["http_integrity", "port_reachability", "tls_integrity", "dns_integrity"]
)
def test_unreachable_reference_is_a_failed_measurement(name: str, closed: int) -> None:
    target = f"http://127.0.0.1:{closed}"
    m = run(name, target, timeout="1s", **({"resolver": "127.0.0.1:9"} if "dns" in name else {}))
    assert m.status is Status.UNREACHABLE, (m.status, m.error)
    assert m.result is None and "Connection refused" in (m.error or "")


def test_silent_resolver_is_a_failed_measurement(ref: IntegrityReference) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        resolver = f"127.0.0.1:{silent.getsockname()[1]}"
        m = run("dns_integrity", ref.url, resolver=resolver, timeout="0.2s", retries=0)
    assert m.status is Status.TIMEOUT and m.result is None and resolver in (m.error or "")


# HTTP manipulation --------------------------------------------------------------------------
def test_transparent_proxy_header_and_body_injection_are_named(ref: IntegrityReference) -> None:
    upstream = ("127.0.0.1", int(ref.url.rsplit(":", 1)[1]))

    def inject(reply: bytes) -> bytes:
        reply = reply.replace(b"</body>", b"<script>ad()</script></body>")
        return reply.replace(b"Connection: close\r\n", b"Connection: close\r\nVia: 1.1 box\r\n")

    relay = tamper.http_tamper(
        upstream, tamper.add_request_header(b"X-Forwarded-For: 10.0.0.7"), inject
    )
    with tamper.serving(relay) as port:
        m = run("http_integrity", f"http://127.0.0.1:{port}")
    got = {(f["kind"], f["subject"]): f for f in findings(m)}
    assert got[("proxy_header", "X-Forwarded-For")]["observed"] == "X-Forwarded-For: 10.0.0.7"
    assert got[("proxy_header", "Via")]["observed"] == "Via: 1.1 box"  # in the response
    body = next(f for f in findings(m) if f["kind"] == "body_changed")
    assert body["observed"] != body["expected"]
    assert m.result is not None and m.result.outcome == "manipulated"


def test_removed_and_recased_request_headers_are_named(ref: IntegrityReference) -> None:
    upstream = ("127.0.0.1", int(ref.url.rsplit(":", 1)[1]))

    def normalise(head: bytes) -> bytes:
        return head.replace(b"x-qos-lower", b"X-Qos-Lower").replace(b"Accept: */*\r\n", b"")

    relay = tamper.http_tamper(upstream, normalise, lambda reply: reply)
    with tamper.serving(relay) as port:
        m = run("http_integrity", f"http://127.0.0.1:{port}")
    assert kinds(m) == {"request_header_removed", "request_header_case_changed"}
    case = next(f for f in findings(m) if f["kind"] == "request_header_case_changed")
    assert (case["expected"], case["observed"]) == ("x-qos-lower", "X-Qos-Lower")


# ports ---------------------------------------------------------------------------------------
def test_a_port_answered_by_someone_else_is_rewritten(ref: IntegrityReference) -> None:
    with socket.create_server(("127.0.0.1", 0)) as foreign:
        port = foreign.getsockname()[1]
        foreign.settimeout(5)
        m = None

        def answer() -> None:
            conn, _ = foreign.accept()
            with conn:
                conn.sendall(b"220 smtp.isp.example ESMTP\r\n")

        import threading

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        m = run("port_reachability", ref.url, ports=str(port), timeout="1s")
        t.join(5)
    rewritten = [f for f in findings(m) if f["kind"] == "port_rewritten"]
    assert [f["subject"] for f in rewritten] == [f"tcp/{port}"]
    assert "220 smtp.isp.example" in rewritten[0]["observed"]


@pytest.mark.parametrize(
    ("listening", "seen", "kind"),
    [
        (True, "open", None),
        (True, "reset", "port_reset"),
        (True, "silent", "port_blocked"),
        (True, "other", "port_rewritten"),
        (False, "reset", None),
        (False, "open", "port_rewritten"),
        (False, "silent", None),
    ],
)
def test_port_verdict_table(listening: bool, seen: str, kind: str | None) -> None:
    finding = judge("tcp", 25, listening, seen, "evidence")
    assert (finding.kind if finding else None) == kind


# TLS -----------------------------------------------------------------------------------------
def test_a_pin_from_the_configuration_that_differs_is_interception(
    ref: IntegrityReference,
) -> None:
    other = "A" * 43 + "="
    m = run("tls_integrity", ref.url, pin_sha256=other)
    (finding,) = findings(m)
    assert finding["kind"] == "spki_mismatch" and finding["expected"] == other
    assert finding["observed"] == ref.manifest["tls"]["spki_sha256"]


def test_intercepting_proxy_downgrade_and_stripped_sni_are_named(
    ref: IntegrityReference,
) -> None:
    relay, tmp = tamper.tls_interceptor(("127.0.0.1", ref.manifest["tls"]["port"]))
    with tmp, tamper.serving(relay) as port:
        m = run("tls_integrity", ref.url, port=port, pin_sha256=ref.manifest["tls"]["spki_sha256"])
    got = {f["kind"]: f for f in findings(m)}
    assert set(got) == {"spki_mismatch", "tls_downgraded", "tls_version_differs", "sni_stripped"}
    assert "CN=qos-toolkit integrity reference" in got["spki_mismatch"]["subject"]
    assert got["spki_mismatch"]["observed"] != ref.manifest["tls"]["spki_sha256"]
    assert (got["tls_downgraded"]["expected"], got["tls_downgraded"]["observed"]) == (
        "TLSv1.3",
        "TLSv1.2",
    )
    assert got["sni_stripped"]["expected"] == "reference.integrity.qos.test"


# DNS through a real dnsmasq ------------------------------------------------------------------
def _dnsmasq(tmp: Path, ref: IntegrityReference, *rules: str) -> Iterator[str]:
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not Path(binary).exists():
        pytest.skip("dnsmasq not installed (Debian package dnsmasq)")
    port = free_port(socket.SOCK_DGRAM)
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
            f"--server=/integrity.qos.test/{own_resolver(ref).replace(':', '#')}",
            *rules,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        target = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while run("dns", target, name="a.integrity.qos.test", timeout="0.2s").status != "ok":
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"dnsmasq did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield target
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.fixture
def honest_dnsmasq(tmp_path: Path, ref: IntegrityReference) -> Iterator[str]:
    yield from _dnsmasq(tmp_path, ref, "--cache-size=0")


@pytest.fixture
def lying_dnsmasq(tmp_path: Path, ref: IntegrityReference) -> Iterator[str]:
    yield from _dnsmasq(
        tmp_path,
        ref,
        "--address=/a.integrity.qos.test/10.66.0.1",
        "--address=/absent.integrity.qos.test/198.51.100.7",
        "--min-cache-ttl=3600",
    )


def test_forwarding_resolver_without_manipulation_is_clean(
    ref: IntegrityReference, honest_dnsmasq: str
) -> None:
    for _ in range(3):
        m = run("dns_integrity", ref.url, resolver=honest_dnsmasq)
        assert findings(m) == [] and m.result is not None and m.result.outcome == "clean"


def test_dns_override_nxdomain_rewriting_and_ttl_raising_are_named(
    ref: IntegrityReference, lying_dnsmasq: str
) -> None:
    run("dns_integrity", ref.url, resolver=lying_dnsmasq)  # fills dnsmasq's cache
    m = run("dns_integrity", ref.url, resolver=lying_dnsmasq)
    got = {(f["kind"], f["subject"].split()[0].split(".")[0]): f for f in findings(m)}
    changed = got[("answer_changed", "a")]
    assert "192.0.2.1" in changed["expected"] and "10.66.0.1" in changed["observed"]
    nx = next(f for (k, _), f in got.items() if k == "nxdomain_rewritten")
    assert nx["expected"].startswith("NXDOMAIN") and "198.51.100.7" in nx["observed"]
    ttl = got[("ttl_raised", "a")]  # dnsmasq caches the AAAA answer with its min-cache-ttl
    assert ttl["subject"] == "a.integrity.qos.test. AAAA"
    assert int(ttl["expected"]) == ZONE_TTL_S and int(ttl["observed"]) > ZONE_TTL_S


# how the reference is started ------------------------------------------------------------------
def test_reference_integrity_target_resolves_to_a_working_reference() -> None:
    from qos_agent.reference import ReferenceServices

    with ReferenceServices() as services:
        url = services.resolve("@reference/integrity")
        assert url.startswith("http://127.0.0.1:")
        assert findings(run("tls_integrity", url)) == []


def test_server_command_serves_the_integrity_reference(tmp_path: Path, closed: int) -> None:
    from tests.agent.conftest import cli_argv, cli_env

    proc = subprocess.Popen(
        cli_argv("server", "--port", "0", "--integrity", "--listen-tcp", "", "--listen-udp", ""),
        stdout=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split()[-1].removesuffix("/manifest")
        assert url.startswith("http://127.0.0.1:"), first
        m = run("port_reachability", url, ports=str(closed), timeout="1s")
        ports = m.result.details["ports"]  # type: ignore[union-attr]
        assert findings(m) == [] and ports.pop(f"tcp/{closed}")["seen"] == "reset"
        assert len(ports) == 2 and {p["seen"] for p in ports.values()} == {"open"}  # echo, TLS
        assert findings(run("http_integrity", url)) == []
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_ad_bit_on_the_unsigned_zone_is_named(ref: IntegrityReference) -> None:
    upstream = ("127.0.0.1", int(ref.manifest["dns"]["port"]))
    with tamper.dns_relay(upstream, tamper.set_ad_bit) as port:
        m = run("dns_integrity", ref.url, resolver=f"127.0.0.1:{port}")
    got = findings(m)
    assert {f["kind"] for f in got} == {"ad_claimed_unsigned"}
    assert len(got) == 4  # every question: three zone records and the absent name
    assert all((f["expected"], f["observed"]) == ("AD=0 (unsigned zone)", "AD=1") for f in got)


# reference bounds --------------------------------------------------------------------------------
def test_a_request_head_must_arrive_within_one_deadline() -> None:
    """A head dripped byte by byte (each recv well inside any per-read timeout) is given up
    at the whole-head deadline."""
    import threading

    from qos_agent.refserver.echo import read_head

    client, server = socket.socketpair()
    with client, server:

        def drip() -> None:
            for byte in b"GET /echo HTTP/1.1\r\nHost: x\r\n":
                try:
                    client.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.02)

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        t0 = time.monotonic()
        assert read_head(server, deadline_s=0.3) is None
        assert 0.29 <= time.monotonic() - t0 < 0.6
        thread.join(2)


def test_connections_beyond_the_cap_are_closed_at_once() -> None:
    from qos_agent.refserver.echo import EchoServer, serve_in_thread

    class Small(EchoServer):
        max_connections = 2

    server = Small(("127.0.0.1", 0), dict)
    stop = serve_in_thread(server, "test-echo-cap")
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        time.sleep(0.2)  # both are being served (waiting for their heads)
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as extra:
            assert extra.recv(100) == b""  # closed without a reply
        assert server.rejected == 1
        for sock in idle:
            sock.close()
    finally:
        stop()


def test_the_server_stops_cleanly_as_soon_as_it_has_announced_itself(tmp_path: Path) -> None:
    """A supervisor may stop the server the moment it has read the first URL: SIGTERM must
    already get the clean shutdown (exit 0), not the default kill."""
    from tests.agent.conftest import cli_argv, cli_env

    for _ in range(3):
        proc = subprocess.Popen(
            cli_argv(
                "server", "--port", "0", "--integrity", "--listen-tcp", "", "--listen-udp", ""
            ),
            stdout=subprocess.PIPE,
            text=True,
            env=cli_env(tmp_path),
        )
        assert proc.stdout is not None
        assert "/manifest" in proc.stdout.readline()
        proc.terminate()
        proc.communicate(timeout=10)
        assert proc.returncode == 0
