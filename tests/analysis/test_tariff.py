"""Tariff transparency figures against values computed by hand from a fixture.

Fixture (price 39.99 EUR per month, advertised download 100 Mbit/s, allowance 10 GB):

* November 2026: downloads of 60, 70, 80, 90 and 95 Mbit/s (10 s each: 75, 87.5, 100,
  112.5 and 118.75 MB of payload; the 95 Mbit/s one reports 125 MB on the wire), one timed-out
  download (no goodput, 0 bytes), one 30 Mbit/s upload (37.5 MB), one ICMP run of
  8 400 bytes on the wire, one skipped run.
* December 2026: one 20 Mbit/s upload (25 MB).

By hand: median download 80 Mbit/s (5 successful tests); 39.99 / 80 = 0.499875 EUR per
Mbit/s (printed 0.50 EUR), 39.99 / 100 = 0.3999 (0.40 EUR); delivered 80 / 100 = 80.0 %;
November bytes 75 000 000 + 87 500 000 + 100 000 000 + 112 500 000 + 125 000 000 +
37 500 000 + 8 400 = 537 508 400 = 5.37508400 % of 10 GB; December 25 000 000 = 0.25 %.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from qos.profiles import load_profile_file
from qos.records import Measurement, ProbeSample, RttResult, Status
from qos_analysis.cli import EXIT_OK, main
from qos_analysis.load import from_measurements
from qos_analysis.tariff import tariff_figures
from tests.analysis.synthetic import throughput, write_store

NOV = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
DEC = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

PROFILE = """
schema_version = 1
title = "contract with a tariff"
[source]
document = "fixture"
edition = "1"
clause = "1"
verified = false
[tariff]
price_per_month = 39.99
currency = "EUR"
data_allowance_bytes = "10GB"
[parameters.download_max]
dimension = "rate"
value = "100Mbit/s"
[parameters.download_normal]
dimension = "rate"
value = "50Mbit/s"
[defaults]
window = "all"
decision = "literal"
[[objectives]]
id = "download-normal"
metric = "download_speed"
statistic = "share"
threshold = { parameter = "download_normal" }
limit = "90%"
min_samples = 1
"""


def _fixture() -> list[Measurement]:
    downloads = [throughput(NOV, rate * 1e6) for rate in (60, 70, 80, 90)]
    fast = throughput(NOV, 95e6)
    assert fast.result is not None
    fast = dataclasses.replace(
        fast, result=dataclasses.replace(fast.result, details={"bytes_on_wire": 125_000_000})
    )
    failed = throughput(NOV, None, status=Status.TIMEOUT)
    icmp = Measurement(
        agent_id="agent-a",
        collector="icmp",
        target="198.18.0.2",
        started_at=NOV,
        duration_s=1.0,
        status=Status.OK,
        result=RttResult(probes=(ProbeSample(0, 0.0, 0.01),), details={"bytes_on_wire": 8_400}),
    )
    skipped = Measurement(
        agent_id="agent-a",
        collector="http_download",
        target="198.18.0.2",
        started_at=NOV,
        duration_s=0.0,
        status=Status.SKIPPED,
        error="daily budget spent",
    )
    uploads = [throughput(NOV, 30e6, direction="upload"), throughput(DEC, 20e6, direction="upload")]
    return [*downloads, fast, failed, icmp, skipped, *uploads]


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    path = tmp_path / "contract.toml"
    path.write_text(PROFILE)
    return path


def test_figures_equal_the_hand_computed_values(profile_path: Path) -> None:
    (profile,) = load_profile_file(profile_path).values()
    figures = tariff_figures(from_measurements(_fixture()), profile)
    assert figures is not None
    assert figures.downloads == 5
    assert figures.median_download_bps == 80e6
    assert figures.advertised_download_bps == 100e6
    assert figures.price_per_mbps_median == Decimal("0.499875")
    assert figures.price_per_mbps_advertised == Decimal("0.3999")
    assert figures.delivered_share == 0.8
    assert [(u.month, u.bytes, u.records) for u in figures.usage] == [
        ("2026-11", 537_508_400, 9),
        ("2026-12", 25_000_000, 1),
    ]
    assert figures.usage[0].allowance_share == 537_508_400 / 10_000_000_000
    assert figures.usage[1].allowance_share == 0.0025


def test_bytes_are_counted_as_the_agents_budget_counts_them() -> None:
    from qos_agent.fairuse import measurement_bytes

    fixture = _fixture()
    by_hand = sum(measurement_bytes(m) for m in fixture)
    data = from_measurements(fixture)
    from qos_analysis.tariff import record_bytes

    assert int(data.measurements.apply(record_bytes, axis=1).sum()) == by_hand == 562_508_400


def test_qos_score_prints_and_exports_the_tariff_block(
    profile_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = write_store(tmp_path / "store.sqlite", _fixture())
    args = ["score", "--data", str(store), "--profile", str(profile_path)]
    assert main(args) == EXIT_OK
    text = capsys.readouterr().out
    block = text[text.index("tariff:") :]
    assert block.splitlines() == [
        "tariff: 39.99 EUR per month",
        "  price per Mbit/s at the median download 80.00 Mbit/s (5 tests): 0.50 EUR",
        "  price per Mbit/s at the advertised 100.00 Mbit/s: 0.40 EUR",
        "  delivered: 80.0% of the advertised download speed",
        "  measuring used 537.51 MB in 2026-11 (9 records) = 5.38% of the 10.00 GB allowance",
        "  measuring used 25.00 MB in 2026-12 (1 record) = 0.25% of the 10.00 GB allowance",
    ]
    assert main([*args, "--format", "json"]) == EXIT_OK
    tariff = json.loads(capsys.readouterr().out)["tariff"]
    assert tariff["price_per_mbps_median"] == "0.499875"
    assert tariff["price_per_mbps_advertised"] == "0.3999"
    assert tariff["usage"][0]["bytes"] == 537_508_400


def test_a_profile_without_tariff_has_no_figures(profile_path: Path) -> None:
    text = profile_path.read_text()
    start, end = text.index("[tariff]"), text.index("[parameters.download_max]")
    profile_path.write_text(text[:start] + text[end:])
    (profile,) = load_profile_file(profile_path).values()
    assert tariff_figures(from_measurements(_fixture()), profile) is None


def test_profiles_show_names_the_tariff(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "show", "contract.example"]) == EXIT_OK
    text = capsys.readouterr().out
    assert (
        "tariff: 39.99 EUR per month; allowance 500.00 GB; advertised download = parameter "
        "download_max"
    ) in text
    assert main(["profiles", "show", "contract.example", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["tariff"] == {
        "price_per_month": "39.99",
        "currency": "EUR",
        "data_allowance_bytes": 500_000_000_000,
        "advertised_download": "download_max",
    }
