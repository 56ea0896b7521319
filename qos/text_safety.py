"""Strings from data or configuration made safe for terminals, logs and CSV cells.

Agent ids, targets, labels, error texts and profile text come from files and from the
network.  Printed raw, an escape sequence in a target can clear the screen or retitle the
terminal window, a newline can split a table row so that a fake line appears, and a
bidirectional override (Unicode TR #9) can make a line read differently from its bytes.
:func:`neutralize` shows all of them as visible escapes; :func:`protect_csv_cell` also stops
a spreadsheet from running a cell as a formula (OWASP "CSV Injection").  Every renderer
uses these two functions.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import TextIO

# Unicode bidirectional formatting characters (Unicode TR #9 §2).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TRUNCATION_MARKER = "…[truncated]"
#: a log line's message is cut here (a 10 kB peer string must not flood the log)
LOG_MESSAGE_LIMIT = 2000


def neutralize(text: object, max_length: int = 200) -> str:
    """``text`` safe for a terminal or a log line, at most ``max_length`` characters plus a
    truncation marker.

    Control characters (C0, DEL and C1; ESC starts every terminal escape sequence), format
    characters (bidirectional overrides, zero-width characters), private-use, surrogate and
    unassigned code points, line and paragraph separators become visible ``\\x..`` / ``\\u....``
    escapes, so one string is always one line.
    """
    out: list[str] = []
    for char in str(text):
        code = ord(char)
        category = unicodedata.category(char)
        if char in _BIDI_CONTROLS or category[0] == "C" or category in ("Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    safe = "".join(out)
    if len(safe) > max_length:
        return safe[:max_length] + TRUNCATION_MARKER
    return safe


def protect_csv_cell(value: object, max_length: int = 10_000) -> object:
    """A string cell neutralised and made inert for spreadsheets; other values unchanged.

    A cell starting with ``= + - @`` (or tab / CR) gets a leading single quote, which
    spreadsheets display as text.  Numbers are left alone: a negative number is data.
    """
    if not isinstance(value, str):
        return value
    text = neutralize(value, max_length=max_length)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class SafeLogFormatter(logging.Formatter):
    r"""A :class:`logging.Formatter` whose message is :func:`neutralize`\ d: values logged
    from data (targets, peer addresses, error texts, config keys) can neither emit an
    escape sequence nor start a fake log line.  Tracebacks of programming errors are kept
    as they are (multi-line by design)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(record.__dict__)
        safe.message = neutralize(record.message, max_length=LOG_MESSAGE_LIMIT)
        return super().formatMessage(safe)


def safe_log_handler(stream: TextIO, fmt: str) -> logging.Handler:
    """A stream handler writing through :class:`SafeLogFormatter`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeLogFormatter(fmt))
    return handler
