"""The report's integrity and tariff sections in every format, from records the integrity
collectors produced on loopback and the tariff fixture of test_tariff.py (hand-computed
figures there)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from qos.profiles import load_profile_file
from qos.records import Measurement
from qos_analysis.load import from_measurements
from qos_analysis.report import report
from tests.analysis import test_integrity_evidence as integrity_fixture
from tests.analysis import test_tariff as tariff_fixture

pytest.importorskip("cryptography.x509", reason="cryptography (agent extra) not installed")
records = integrity_fixture.records  # the module fixture: 3 clean, 1 manipulated, 1 failed


@pytest.fixture(scope="module")
def rendered(
    records: list[Measurement], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("report")
    profile_path = tmp / "contract.toml"
    profile_path.write_text(tariff_fixture.PROFILE)
    (profile,) = load_profile_file(profile_path).values()
    data = from_measurements([*tariff_fixture._fixture(), *records])
    out = {}
    for fmt in ("html", "md", "json"):
        written = report(data, profile, format=fmt, out=tmp / f"r.{fmt}", window="all")
        out[fmt] = Path(written.path).read_text(encoding="utf-8")
    return out


def test_json_sections_validate_and_hold_the_figures(rendered: dict[str, str]) -> None:
    schema = json.loads(
        resources.files("qos_analysis.report").joinpath("schema/qos-report-1.json").read_text()
    )
    doc = json.loads(rendered["json"])
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    tariff = doc["tariff"]
    assert (tariff["price_per_mbps_median"], tariff["price_per_mbps_advertised"]) == (
        "0.499875",
        "0.3999",
    )
    assert tariff["delivered_share"] == 0.8 and tariff["median_download_bps"] == 80e6
    assert [(u["month"], u["bytes"]) for u in tariff["usage"]][1] == ("2026-12", 25_000_000)
    tests = {(t["clean"], t["manipulated"], t["failed"]) for t in doc["integrity"]["tests"]}
    assert tests == {(3, 0, 0), (0, 1, 0), (0, 0, 1)}
    (finding,) = doc["integrity"]["findings"]
    assert (finding["kind"], finding["subject"], finding["expected"]) == (
        "request_header_added",
        "X-Ad",
        "—",
    )
    assert "\x1b" not in rendered["json"] and "\\\\x1b[31mred" in rendered["json"]


def test_html_and_markdown_show_both_sections_escaped(rendered: dict[str, str]) -> None:
    html, md = rendered["html"], rendered["md"]
    assert '<section id="tariff">' in html and '<section id="integrity">' in html
    assert "0.50 EUR" in html and "0.40 EUR" in html and "80.0% of the advertised" in html
    assert re.search(r"<td>request_header_added</td><td>X-Ad</td>", html)
    assert "\x1b" not in html and "\\x1b[31mred" in html
    assert "## Tariff" in md and "## Service integrity" in md
    row = next(line for line in md.splitlines() if "request\\_header\\_added" in line)
    assert row.count(" | ") == 5 and "X-Ad" in row and "\x1b" not in md


def test_no_integrity_tests_and_no_tariff_give_no_sections(tmp_path: Path) -> None:
    data = from_measurements(tariff_fixture._fixture())
    written = report(data, "y1541/class0", format="json", out=tmp_path / "r.json", window="all")
    doc = json.loads(Path(written.path).read_text())
    assert doc["integrity"] is None and doc["tariff"] is None
