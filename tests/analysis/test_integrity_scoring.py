"""Integrity profile: any manipulation fails with the evidence, too few clean tests are
inconclusive with the count needed, failed tests are neither clean nor manipulated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qos.records import Measurement, Status, TimingResult
from qos_analysis.cli import EXIT_OK, EXIT_VIOLATION, main
from qos_analysis.load import from_measurements
from qos_analysis.scoring import score_verdicts
from tests.analysis.synthetic import T0, write_store

FINDING = {
    "kind": "spki_mismatch",
    "subject": "certificate SPKI (issuer CN=Lab Interception CA)",
    "expected": "pinnedAAAA=",
    "observed": "otherBBBB=",
}


def integrity_test(
    collector: str, i: int, outcome: str | None, findings: list[dict] | None = None
) -> Measurement:
    failed = outcome is None
    return Measurement(
        agent_id="agent-a",
        collector=collector,
        target="http://198.18.2.2",
        started_at=T0 + timedelta(minutes=10 * i),
        duration_s=0.05,
        status=Status.UNREACHABLE if failed else Status.OK,
        error="reference http://198.18.2.2: Connection refused" if failed else None,
        result=None
        if failed
        else TimingResult(
            phases_s={"total": 0.05},
            outcome=outcome,
            details={"findings": findings or []},
        ),
    )


def fixture() -> list[Measurement]:
    return [
        *(integrity_test("dns_integrity", i, "clean") for i in range(30)),
        *(integrity_test("http_integrity", i, "clean") for i in range(12)),
        *(integrity_test("tls_integrity", i, "clean") for i in range(5)),
        integrity_test("tls_integrity", 5, "manipulated", [FINDING]),
        *(integrity_test("port_reachability", i, "clean") for i in range(40)),
        *(integrity_test("port_reachability", 40 + i, None) for i in range(3)),
    ]


def by_objective() -> dict[str, object]:
    verdicts = score_verdicts(from_measurements(fixture()), "integrity")
    assert len(verdicts) == 4
    return {v.objective: v for v in verdicts}


def test_outcomes_and_reasons() -> None:
    v = by_objective()
    dns, http, tls, ports = (
        v["dns-not-manipulated"],
        v["http-not-manipulated"],
        v["tls-not-intercepted"],
        v["ports-not-blocked"],
    )
    assert (dns.outcome, dns.n_samples, dns.value) == ("pass", 30, 0.0)  # type: ignore[attr-defined]
    assert http.outcome == "inconclusive"  # type: ignore[attr-defined]
    assert http.reason == "12 sample(s) < min_samples 30: 18 more sample(s) needed"  # type: ignore[attr-defined]
    assert (ports.outcome, ports.n_samples, ports.excluded_tests) == ("pass", 40, 3)  # type: ignore[attr-defined]
    assert tls.outcome == "fail" and tls.n_samples == 6  # type: ignore[attr-defined]
    assert tls.reason.startswith("1 of 6 > 0 %: fails before min_samples 30")  # type: ignore[attr-defined]
    assert (
        "evidence: 2026-03-02 00:50 tls_integrity spki_mismatch certificate SPKI (issuer "
        "CN=Lab Interception CA): expected pinnedAAAA=, observed otherBBBB="
    ) in tls.reason  # type: ignore[attr-defined]


def test_a_manipulation_fails_also_with_enough_tests() -> None:
    records = [integrity_test("dns_integrity", i, "clean") for i in range(40)]
    records.append(
        integrity_test("dns_integrity", 40, "manipulated", [FINDING | {"kind": "answer_changed"}])
    )
    (verdict, *_) = score_verdicts(from_measurements(records), "integrity")
    assert verdict.outcome == "fail"
    assert verdict.reason.startswith("value 1/41 = ")
    assert "answer_changed" in verdict.reason


def test_qos_score_exit_code_and_evidence(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    store = write_store(tmp_path / "s.sqlite", fixture())
    args = ["score", "--data", str(store), "--profile", "integrity"]
    assert main([*args, "--fail-on-violation"]) == EXIT_VIOLATION
    out = capsys.readouterr().out
    assert "overall FAIL" in out and "spki_mismatch" in out
    clean = [m for m in fixture() if m.collector == "dns_integrity"]
    assert (
        main(
            [
                "score",
                "--data",
                str(write_store(tmp_path / "c.sqlite", clean)),
                "--profile",
                "integrity",
            ]
        )
        == EXIT_OK
    )


def test_evidence_stays_in_its_window() -> None:
    verdicts = score_verdicts(from_measurements(fixture()), "integrity", window="10min")
    tls = [v for v in verdicts if v.metric == "tls_manipulation"]
    assert [v.outcome for v in tls] == ["inconclusive"] * 5 + ["fail"]
    assert "evidence: 2026-03-02 00:50 tls_integrity spki_mismatch" in tls[-1].reason
    assert all("evidence" not in v.reason for v in tls[:-1])


def test_integrity_tests_are_not_transactions() -> None:
    """An integrity test's duration is not a web page's load time (G.1010 web browsing)."""
    verdicts = score_verdicts(from_measurements(fixture()), "g1010/web-browsing")
    assert verdicts and all(v.collector is None for v in verdicts)  # only "*": no samples
    assert {v.reason for v in verdicts} == {"no samples for this metric in the data"}
