"""Compliance reports: one report model, rendered as HTML, PDF, Markdown and JSON.

:func:`report` loads and scores the data, builds the model once
(:mod:`~qos_analysis.report.build`), renders it with the renderer registered for the format
(:mod:`~qos_analysis.report.registry`) and writes it atomically.  Modules, one job each:
``model`` (frozen dataclasses), ``adapter`` (verdict table → model), ``summary`` (summary
lines and what would decide inconclusive objectives), ``figures`` (matplotlib Agg),
``sections`` / ``scopes`` / ``windows`` (per-scope figures and tables), ``methodology``,
``provenance``, ``evidence`` (consumer evidence for contract profiles), ``text``
(neutralising data strings), ``html`` / ``pdf`` / ``markdown`` / ``json`` (renderers) and
``base`` (the ``Renderer`` protocol and atomic writing).
"""

from qos_analysis.report.api import Written, default_report_dir, report
from qos_analysis.report.base import Rendered, Renderer, ReportError
from qos_analysis.report.model import SCHEMA_ID, Report
from qos_analysis.report.registry import FORMATS, RENDERERS, renderer


def __getattr__(name: str) -> object:
    # build_report pulls in matplotlib: loaded on first use, not with qos_analysis.
    if name == "build_report":
        from qos_analysis.report.build import build_report

        return build_report
    raise AttributeError(name)


__all__ = [
    "FORMATS",
    "RENDERERS",
    "SCHEMA_ID",
    "Rendered",
    "Renderer",
    "Report",
    "ReportError",
    "Written",
    "build_report",
    "default_report_dir",
    "renderer",
    "report",
]
