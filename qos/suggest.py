"""Did-you-mean hints for unknown names (config keys, collectors, metrics)."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'interval'?"`` for the closest known name, or None."""
    import difflib  # only when a name is wrong: the agent daemon does not carry it

    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def unknown_name_hint(name: str, choices: Iterable[str]) -> str:
    """A did-you-mean hint, or the list of valid names when nothing is close."""
    options = sorted(choices)
    return did_you_mean(name, options) or f"valid names: {', '.join(options) or '(none)'}"
