"""Jinja2 environments: HTML with autoescaping on, Markdown with every value escaped."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

import jinja2

from qos_analysis.report.text import markdown_inline


class Raw(str):
    """A Markdown fragment made by the renderer itself (links, paths): not escaped."""

    __slots__ = ()


def _md_finalize(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return markdown_inline(value)


@cache
def html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("qos_analysis.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    return env


@cache
def markdown_env() -> jinja2.Environment:
    # Autoescaping is for HTML; Markdown gets its own escaping on every {{ }} output.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("qos_analysis.report", "templates"),
        autoescape=False,
        finalize=_md_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
