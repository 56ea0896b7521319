"""Integrity evidence from records the collectors really produced (loopback reference and a
manipulating relay), with hostile header text neutralised."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from qos.records import Measurement
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_analysis.integrity import evidence_lines, integrity_findings, integrity_summary
from qos_analysis.load import from_measurements
from tests.agent import integrity_tamper as tamper

pytest.importorskip("cryptography.x509", reason="cryptography (agent extra) not installed")
HOSTILE = b"X-Ad: \x1b[31mred\x1b[0m \x85"  # ESC sequences and a C1 control (NEL)


@pytest.fixture(scope="module")
def records() -> Iterator[list[Measurement]]:
    from qos_agent.refserver.integrity import start_integrity_reference

    ref = start_integrity_reference()
    context = MeasureContext("evidence")
    port = int(ref.url.rsplit(":", 1)[1])
    relay = tamper.http_tamper(
        ("127.0.0.1", port), tamper.add_request_header(HOSTILE), lambda reply: reply
    )
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{held.getsockname()[1]}"
        out = [run_collector(get("http_integrity"), ref.url, {}, context) for _ in range(3)]
        with tamper.serving(relay) as relay_port:
            out.append(
                run_collector(get("http_integrity"), f"http://127.0.0.1:{relay_port}", {}, context)
            )
        out.append(run_collector(get("http_integrity"), dead, {"timeout": "1s"}, context))
    ref.stop()
    yield out


def test_summary_counts_clean_manipulated_and_failed(records: list[Measurement]) -> None:
    summary = integrity_summary(from_measurements(records))
    by_target = {
        row["target"]: (row["clean"], row["manipulated"], row["failed"])
        for _, row in summary.iterrows()
    }
    assert sorted(by_target.values()) == [(0, 0, 1), (0, 1, 0), (3, 0, 0)]


def test_findings_name_the_change_and_hostile_text_is_neutralised(
    records: list[Measurement],
) -> None:
    findings = integrity_findings(from_measurements(records))
    assert list(findings["kind"]) == ["request_header_added"]
    assert findings.iloc[0]["subject"] == "X-Ad"
    (line,) = evidence_lines(findings)
    assert "http_integrity request_header_added X-Ad: expected —, observed X-Ad: " in line
    assert "\x1b" not in line and "\x85" not in line  # header octets are read as latin-1
    assert "\\x1b[31mred\\x1b[0m \\x85" in line


def test_loaded_measurements_carry_the_manipulated_column(records: list[Measurement]) -> None:
    column = from_measurements(records).measurements["manipulated"]
    assert sorted(column.fillna(-1).tolist()) == [-1.0, 0.0, 0.0, 0.0, 1.0]  # -1: failed test


def test_collector_records_scored_end_to_end(records: list[Measurement]) -> None:
    """30 real runs of each collector on loopback pass the integrity profile; the relay's
    manipulation (in ``records``) fails http_integrity's scope with the evidence."""
    from qos_agent.refserver.integrity import start_integrity_reference
    from qos_analysis.scoring import score_verdicts

    ref = start_integrity_reference()
    context = MeasureContext("evidence")
    resolver = f"127.0.0.1:{ref.manifest['dns']['port']}"
    params = {
        "dns_integrity": {"resolver": resolver},
        "port_reachability": {"ports": ""},
        "http_integrity": {},
        "tls_integrity": {},
    }
    runs = [
        run_collector(get(name), ref.url, p, context)
        for _ in range(30)
        for name, p in params.items()
    ]
    ref.stop()
    verdicts = score_verdicts(from_measurements([*runs, *records]), "integrity")
    outcomes = {(v.objective, v.target == ref.url): v for v in verdicts}
    for objective in ("dns-not-manipulated", "ports-not-blocked", "tls-not-intercepted"):
        assert outcomes[(objective, True)].outcome == "pass"
    assert outcomes[("http-not-manipulated", True)].outcome == "pass"
    relayed = [v for v in verdicts if v.objective == "http-not-manipulated" and v.outcome == "fail"]
    assert len(relayed) == 1 and "request_header_added X-Ad" in relayed[0].reason
