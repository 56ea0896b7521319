"""Scoring the fixed fixture gives the committed verdict tables, byte for byte."""

from __future__ import annotations

from pathlib import Path

from tests.analysis.golden import GOLDEN, golden_name, golden_tables


def test_verdict_tables_of_every_shipped_profile_are_unchanged(tmp_path: Path) -> None:
    tables = golden_tables(tmp_path)
    assert len(tables) >= 20
    for profile_id, text in tables.items():
        expected = (GOLDEN / golden_name(profile_id)).read_text(encoding="utf-8")
        assert text == expected, f"verdicts of {profile_id} changed"
