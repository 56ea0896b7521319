"""The explicit renderer registry: format name → renderer factory."""

from __future__ import annotations

from collections.abc import Callable

from qos_analysis.report.base import Renderer, ReportError


def _html() -> Renderer:
    from qos_analysis.report.html import HtmlRenderer

    return HtmlRenderer()


def _pdf() -> Renderer:
    from qos_analysis.report.pdf import PdfRenderer

    return PdfRenderer()


def _markdown() -> Renderer:
    from qos_analysis.report.markdown import MarkdownRenderer

    return MarkdownRenderer()


def _json() -> Renderer:
    from qos_analysis.report.json import JsonRenderer

    return JsonRenderer()


RENDERERS: dict[str, Callable[[], Renderer]] = {
    "html": _html,
    "pdf": _pdf,
    "md": _markdown,
    "json": _json,
}
FORMATS = tuple(RENDERERS)


def renderer(name: str) -> Renderer:
    try:
        factory = RENDERERS[name]
    except KeyError:
        raise ReportError(
            f"unknown report format {name!r}; choose one of {', '.join(FORMATS)}"
        ) from None
    return factory()
