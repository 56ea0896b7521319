"""Neutralising strings from data: control characters, escapes, bidi overrides, formulas."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from qos.text_safety import TRUNCATION_MARKER, neutralize, protect_csv_cell


def test_escape_sequences_and_newlines_become_visible() -> None:
    assert neutralize("a\x1b[2Jb\x07c\r\nd\u202ee\u2028") == (
        "a\\x1b[2Jb\\x07c\\x0d\\x0ad\\u202ee\\u2028"
    )
    assert neutralize("plain 198.18.0.1 µs ≤ 5 %") == "plain 198.18.0.1 µs ≤ 5 %"


def test_long_strings_are_cut_with_a_marker() -> None:
    out = neutralize("x" * 10_000, max_length=100)
    assert out == "x" * 100 + TRUNCATION_MARKER


@given(st.text())
def test_output_is_always_one_printable_line(text: str) -> None:
    out = neutralize(text, max_length=50_000)
    assert all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in out)


def test_csv_formula_cells_are_protected_and_numbers_untouched() -> None:
    assert protect_csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert protect_csv_cell("+1") == "'+1" and protect_csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert protect_csv_cell("-cmd") == "'-cmd"
    assert protect_csv_cell(-1.5) == -1.5 and protect_csv_cell(None) is None
    assert protect_csv_cell("198.18.0.1") == "198.18.0.1"
