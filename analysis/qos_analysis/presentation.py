"""How verdict quantities and data strings are shown to people: one place for units and
for neutralising strings that come from data or configuration.

Values inside the toolkit are in base units (seconds, bit/s, ratios 0…1); people read
milliseconds, Mbit/s and percent.  The verdict table, the verdict reasons and the reports
all format through :func:`format_quantity`, so a reason never speaks in other units than
the table it explains.  Strings from data (agent ids, targets, labels, error texts) pass
through :func:`neutralize` before they reach a terminal: control characters, escape
sequences and bidirectional overrides become visible escapes, so a crafted target cannot
clear the screen, retitle the window or split a table row.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

# Unicode bidirectional formatting characters (Unicode TR #9 §2): they reorder what
# follows them on screen and can make a line read differently from its bytes.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
TRUNCATION_MARKER = "…[truncated]"


def neutralize(text: Any, max_length: int = 200) -> str:
    """``text`` made safe for a terminal or log line, at most about ``max_length`` characters.

    Control characters (C0, DEL, C1: ESC starts every terminal escape sequence), line and
    paragraph separators and bidirectional controls are replaced by visible ``\\x..`` /
    ``\\u....`` escapes; overlong strings are cut and marked.
    """
    out: list[str] = []
    for char in str(text):
        code = ord(char)
        if char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    safe = "".join(out)
    if len(safe) > max_length:
        return safe[:max_length] + TRUNCATION_MARKER
    return safe


def format_quantity(value: Any, unit: str) -> str:
    """A verdict quantity in the unit people read: ms, Mbit/s, percent, days.

    ``None``/NaN show as "—"; infinities as "∞" / "−∞".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    number = float(value)
    if math.isnan(number):
        return "—"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if unit in ("s", "duration"):
        return f"{number * 1e3:.3f} ms"
    if unit == "ratio":
        return f"{number * 100:.4g} %"
    if unit in ("bit/s", "rate"):
        return f"{number / 1e6:.2f} Mbit/s"
    return f"{number:g}"


def comparison_symbol(comparison: str) -> str:
    """``"<="`` → "≤", ``">="`` → "≥"."""
    return {"<=": "≤", ">=": "≥"}.get(comparison, comparison)


def format_limit(comparison: str, limit: Any, unit: str) -> str:
    """``"≤ 100.000 ms"``."""
    return f"{comparison_symbol(comparison)} {format_quantity(limit, unit)}"


def format_interval(low: Any, high: Any, unit: str) -> str:
    """``"[0 %, 1.487 %]"``."""
    return f"[{format_quantity(low, unit)}, {format_quantity(high, unit)}]"


def short_ids(ids: list[str], minimum: int = 8) -> dict[str, str]:
    """The shortest prefix (≥ ``minimum`` characters) that still tells every id apart.

    Agent ids are 32 hex digits; a table shows e.g. ``80eaa2a3`` and the JSON/CSV output
    keeps the full id.
    """
    unique = sorted(set(ids))
    length = minimum
    while length < max((len(i) for i in unique), default=0):
        if len({i[:length] for i in unique}) == len(unique):
            break
        length += 1
    return {i: i[:length] for i in unique}
