"""Neutralising strings that come from data or configuration before any renderer sees them.

Targets, agent ids, labels, titles and profile text are free text written by other people.
Every report format shows them, so they are cleaned once, when the report model is built:

* C0/C1 control characters (ESC of ANSI sequences, NUL, CR …) and Unicode bidirectional
  controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C; the "Trojan Source" characters of
  CVE-2021-42574) are replaced by a visible ``\\x1b`` / ``\\u202e`` escape, so they can
  neither drive a terminal nor reorder what a reader sees;
* strings longer than a limit are cut, with a marker saying how many characters were dropped.

Markup is *not* touched here: HTML escaping is Jinja2's autoescape, Markdown escaping is
:func:`markdown_inline`.  Keeping the three steps apart means no format double-escapes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_NAME = 200  # targets, agent ids, labels
MAX_TEXT = 2000  # titles, notes, reasons, profile text

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}\\u2028\\u2029]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~<>&$])")
_MD_BLOCK = re.compile(r"^(\s*)([#+\-=>](?=\s|$)|\d+[.)](?=\s|$))")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as text with control/bidi characters made visible and length capped.

    Newlines and tabs survive (paragraph text); :func:`clean_name` removes them too.
    Cached: verdict tables repeat the same scope, clause and source strings many times.
    """
    text = "" if value is None else str(value)
    return _clean(text, limit)


@lru_cache(maxsize=65536)
def _clean(text: str, limit: int) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub(_visible, text)
    if len(text) > limit:
        dropped = len(text) - limit
        text = f"{text[:limit]}… [truncated: {dropped:,} more characters]"
    return text


def clean_name(value: object, limit: int = MAX_NAME) -> str:
    """A one-line name: :func:`clean` plus newlines and tabs made visible."""
    text = "" if value is None else str(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return clean(text, limit)


def markdown_inline(value: object) -> str:
    """Text safe inside a Markdown paragraph or table cell (CommonMark / GFM).

    Every inline-active character is backslash-escaped (CommonMark §2.4 allows a backslash
    before any ASCII punctuation): ``|`` cannot split a table cell, backticks cannot open
    code, ``*``/``_``/``~`` cannot emphasise, ``[``/``]`` cannot link, ``<``/``&`` cannot start
    HTML or an entity, ``$`` cannot start math; line breaks become spaces, and a leading
    block marker (``#``, ``-``, ``+``, ``=``, ``>``, ``1.``) is escaped too.
    """
    text = clean(value).replace("\r", " ").replace("\n", " ")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_BLOCK.sub(r"\1\\\2", text)
