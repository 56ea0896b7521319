"""The collector over real HTTP on loopback: authentication, limits, per-record validation,
exactly-once storage under duplicates, concurrency and a restart, health and metrics."""

from __future__ import annotations

import gzip
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the collector needs the 'collector' extra")
pytest.importorskip("uvicorn", reason="the collector needs the 'collector' extra")

from qos.records import SCHEMA_VERSION
from qos_analysis.collector.tokens import TokenFile
from qos_analysis.dataset import read_dataset
from tests.analysis.synthetic import T0, rtt_measurement
from tests.scale.collector_proc import Collector, docs, get, post, qos
from tests.scale.records import mixed_batch

LIMITS = ("--max-body", "200000", "--max-inflated", "1000000", "--max-records", "200")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("collector")
    tokens = root / "tokens.json"
    made = {a: qos("collector", "token", "add", a, "--tokens", str(tokens)) for a in ("a", "b")}
    assert all(p.returncode == 0 for p in made.values())
    keys = {a: p.stdout.strip() for a, p in made.items()}
    collector = Collector(
        root / "ds", tokens, *LIMITS, "--body-timeout", "2", "--header-timeout", "2"
    ).start()
    yield collector, keys, root
    collector.stop()


def _stored(root: Path) -> list[str]:
    return sorted(read_dataset(root / "ds").measurements["measurement_id"])


def test_tokens_are_stored_hashed_and_checked(served) -> None:
    collector, keys, root = served
    text = (root / "tokens.json").read_text()
    assert keys["a"] not in text and len(keys["a"]) >= 40
    batch = docs(mixed_batch("a", seed=11, hours=1))
    assert post(collector.url, batch, None)[0] == 401
    assert post(collector.url, batch, "not-a-token")[0] == 401
    status, body = post(collector.url, batch, keys["b"])  # b's token, a's records
    assert status == 403 and "'b'" in body["error"]
    assert not set(m["id"] for m in batch) & set(_stored(root))


def test_revoked_token_is_refused_at_once(tmp_path: Path) -> None:
    tokens = tmp_path / "t.json"
    key = TokenFile(tokens).add("x")
    collector = Collector(tmp_path / "ds", tokens).start()
    try:
        batch = docs(mixed_batch("x", seed=3, hours=1))
        assert post(collector.url, batch[:1], key)[0] == 200
        assert qos("collector", "token", "revoke", "x", "--tokens", str(tokens)).returncode == 0
        assert post(collector.url, batch[1:], key)[0] == 401
    finally:
        collector.stop()


def test_limits_answer_413_and_the_server_stays_up(served) -> None:
    collector, keys, _ = served
    rng = np.random.default_rng(5)
    big = docs([rtt_measurement(rng, T0, 3000, base_rtt_s=0.01, jitter_s=0.001, agent_id="a")])
    assert len(json.dumps(big)) > 200_000
    assert post(collector.url, big, keys["a"])[0] == 413
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")  # 50 MB of spaces, ~50 kB on the wire
    assert len(bomb) < 200_000
    status, body = post(collector.url, bomb, keys["a"], encoding="gzip")
    assert status == 413 and "inflates" in body["error"]
    many = [{"id": f"r{i}"} for i in range(201)]
    assert post(collector.url, many, keys["a"])[0] == 413
    assert get(collector.url, "/healthz") == (200, "ok\n")


def test_malformed_bodies_are_422_with_reasons(served) -> None:
    collector, keys, _ = served
    status, body = post(collector.url, b"{not json", keys["a"])
    assert status == 422 and "not valid JSON" in body["error"]
    assert post(collector.url, b'{"records": 5}', keys["a"])[0] == 422
    assert post(collector.url, [], keys["a"])[0] == 422
    status, body = post(collector.url, [{"id": "x/../y", "agent_id": "a"}, 7], keys["a"])
    assert status == 422 and [r["index"] for r in body["rejected"]] == [0, 1]
    status, body = post(collector.url, b"\x1f\x8b\x08 broken", keys["a"], encoding="gzip")
    assert status == 400 and "gzip" in body["error"]
    assert post(collector.url, b"[]", keys["a"], encoding="br")[0] == 415


def test_a_mixed_batch_keeps_its_good_records(served) -> None:
    collector, keys, root = served
    good = docs(mixed_batch("a", seed=21, hours=1))
    nan = docs(mixed_batch("a", seed=22, hours=1))[0]
    nan["result"]["probes"][3][2] = float("nan")
    future = docs(mixed_batch("a", seed=23, hours=1))[0]
    future["started_at"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    newer = docs(mixed_batch("a", seed=24, hours=1))[0]
    newer["schema_version"] = SCHEMA_VERSION + 1
    batch = [*good, nan, future, newer, good[0]]
    status, body = post(collector.url, batch, keys["a"], gzipped=True)
    assert status == 200
    assert sorted(body["accepted"]) == sorted(m["id"] for m in good)
    assert body["duplicate"] == [good[0]["id"]]
    reasons = {r["id"]: r["reason"] for r in body["rejected"]}
    assert "non-finite" in reasons[nan["id"]]
    assert "future" in reasons[future["id"]]
    assert "newer" in reasons[newer["id"]]
    stored = _stored(root)
    assert set(body["accepted"]) <= set(stored) and nan["id"] not in stored


def test_a_repeated_push_is_stored_once(served) -> None:
    collector, keys, root = served
    batch = docs(mixed_batch("b", seed=31))
    first = post(collector.url, batch, keys["b"])
    again = post(collector.url, batch, keys["b"], gzipped=True)
    assert first[0] == again[0] == 200
    assert len(first[1]["accepted"]) == len(batch) and again[1]["accepted"] == []
    assert sorted(again[1]["duplicate"]) == sorted(m["id"] for m in batch)
    stored = _stored(root)
    assert all(stored.count(m["id"]) == 1 for m in batch)


def test_a_slow_body_is_cut_off(served) -> None:
    collector, keys, _ = served
    with socket.create_connection(("127.0.0.1", collector.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/measurements HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            + f"Authorization: Bearer {keys['a']}\r\n\r\n[".encode()
        )
        started = time.monotonic()
        reply = sock.recv(200)
        elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408")
    assert 1.5 < elapsed < 20


@pytest.mark.parametrize("sent", [b"", b"POST /v1/meas"])
def test_idle_and_trickling_headers_are_cut_off(served, sent: bytes) -> None:
    collector, _, _ = served
    with socket.create_connection(("127.0.0.1", collector.port), timeout=30) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server
        elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 20
    assert get(collector.url, "/healthz") == (200, "ok\n")  # and it keeps serving


def test_metrics_count_records(served) -> None:
    collector, keys, _ = served
    batch = docs(mixed_batch("a", seed=41, hours=1))
    assert post(collector.url, batch, keys["a"])[0] == 200
    status, text = get(collector.url, "/metrics")
    assert status == 200
    accepted = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith('qos_collector_records_total{outcome="accepted"}')
    ]
    assert accepted and accepted[0] >= len(batch)
    assert 'qos_collector_requests_total{status="401"}' in text


def test_fifty_agents_push_at_once_and_a_restart_loses_nothing(tmp_path: Path) -> None:
    tokens = tmp_path / "t.json"
    files = TokenFile(tokens)
    agents = [f"agent-{i:02d}" for i in range(50)]
    keys = {a: files.add(a) for a in agents}
    rng = np.random.default_rng(9)
    batches = {
        a: docs(
            [
                rtt_measurement(
                    rng, T0 + timedelta(hours=h), 20, base_rtt_s=0.01, jitter_s=0.002, agent_id=a
                )
                for h in range(4)
            ]
        )
        for a in agents
    }
    collector = Collector(tmp_path / "ds", tokens).start()
    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda a: post(collector.url, batches[a][:2], keys[a]), agents))
        assert all(status == 200 for status, _ in results)
        collector.kill()  # crash: everything acknowledged so far must be on disk
        collector.start()  # same port
        with ThreadPoolExecutor(max_workers=50) as pool:  # every agent re-sends everything
            again = list(pool.map(lambda a: post(collector.url, batches[a], keys[a]), agents))
        assert all(status == 200 for status, _ in again)
        assert sum(len(body["duplicate"]) for _, body in again) == 100
        assert sum(len(body["accepted"]) for _, body in again) == 100
    finally:
        collector.stop()
    stored = read_dataset(tmp_path / "ds")
    expected = sorted(m["id"] for b in batches.values() for m in b)
    assert sorted(stored.measurements["measurement_id"]) == expected
    assert len(stored.probes) == 20 * len(expected)


def test_non_loopback_bind_without_tls_is_refused(tmp_path: Path) -> None:
    proc = qos(
        "collector",
        "serve",
        "--dataset",
        str(tmp_path / "ds"),
        "--tokens",
        str(tmp_path / "t.json"),
        "--bind",
        "0.0.0.0",
        "--port",
        "0",
    )
    assert proc.returncode == 2
    assert "without TLS" in proc.stderr and "--insecure" in proc.stderr


def test_tls_serves_https_and_a_plain_client_is_refused(tmp_path: Path) -> None:
    import shutil
    import ssl
    import subprocess
    import urllib.request

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    tokens = tmp_path / "t.json"
    token = TokenFile(tokens).add("t")
    collector = Collector(
        tmp_path / "ds", tokens, "--tls-cert", str(cert), "--tls-key", str(key)
    ).start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        records = docs(mixed_batch("t", seed=51, hours=1))
        batch = json.dumps(records).encode()
        req = urllib.request.Request(
            f"https://127.0.0.1:{collector.port}/v1/measurements",
            data=batch,
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=60, context=context) as resp:
            assert resp.status == 200 and len(json.loads(resp.read())["accepted"]) == len(records)
        with pytest.raises(OSError):
            post(collector.url, batch, token, timeout=10)  # plain HTTP to a TLS port
    finally:
        collector.stop()


def test_an_unwritable_dataset_is_503_and_a_retry_stores_the_batch(tmp_path: Path) -> None:
    tokens = tmp_path / "t.json"
    key = TokenFile(tokens).add("w")
    (tmp_path / "ds").mkdir()
    blocker = tmp_path / "ds" / "measurements"
    blocker.write_text("a file where the table folder belongs")  # every write fails
    collector = Collector(tmp_path / "ds", tokens).start()
    try:
        batch = docs(mixed_batch("w", seed=61, hours=1))
        status, body = post(collector.url, batch, key)
        assert status == 503 and "retry" in body["error"]
        blocker.unlink()
        status, body = post(collector.url, batch, key)
        assert status == 200 and len(body["accepted"]) == len(batch)
    finally:
        collector.stop()
    assert sorted(read_dataset(tmp_path / "ds").measurements["measurement_id"]) == sorted(
        m["id"] for m in batch
    )
