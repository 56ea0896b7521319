"""Markdown for terminals, repositories and e-mail; figures as PNG files beside it.

Every value is escaped by the template environment (:func:`~qos_analysis.report.text.
markdown_inline`); only links built here are inserted raw.
"""

from __future__ import annotations

from urllib.parse import quote

from qos_analysis.report.base import Rendered
from qos_analysis.report.model import Report
from qos_analysis.report.templating import Raw, markdown_env
from qos_analysis.report.views import template_context


def figure_dir(stem: str) -> str:
    return f"{stem}.figures"


class MarkdownRenderer:
    name = "md"
    suffix = ".md"

    def render(self, report: Report, stem: str) -> Rendered:
        folder = figure_dir(stem)
        files = {f"{folder}/{f.id}.png": f.png for f in report.figures}
        links = {f.id: Raw(quote(f"{folder}/{f.id}.png")) for f in report.figures}
        text = (
            markdown_env()
            .get_template("report.md.j2")
            .render(**template_context(report), links=links)
        )
        return Rendered(text.encode("utf-8"), files)
