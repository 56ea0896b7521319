"""PDF from the same HTML with WeasyPrint: A4, "page N of M", running header, figures kept
whole (CSS Paged Media: ``@page`` margin boxes, ``break-inside: avoid``)."""

from __future__ import annotations

from typing import Any

from qos_analysis.report.base import Rendered, ReportError
from qos_analysis.report.html import render_html
from qos_analysis.report.model import Report

INSTALL_HINT = (
    "PDF reports need WeasyPrint and its system libraries: pip install 'qos-toolkit[report]' "
    "and, on Debian/Ubuntu, apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
    "libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core; the html, md and json formats "
    "work without them"
)


def load_weasyprint() -> object:
    """The ``weasyprint`` module, or a :class:`ReportError` saying what to install."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: pango/harfbuzz shared libraries missing
        raise ReportError(
            f"cannot make a PDF ({exc.__class__.__name__}: {exc}). {INSTALL_HINT}"
        ) from exc
    return weasyprint


class PdfRenderer:
    name = "pdf"
    suffix = ".pdf"

    def __init__(self) -> None:
        load_weasyprint()  # fail before loading and scoring the data, not after

    def render(self, report: Report, stem: str) -> Rendered:
        weasyprint = load_weasyprint()
        html = render_html(report, for_print=True)

        document = weasyprint.HTML(string=html, url_fetcher=_data_only(weasyprint))  # type: ignore[attr-defined]
        return Rendered(document.write_pdf() or b"")


def _data_only(weasyprint: Any) -> Any:
    """A URL fetcher for ``data:`` URIs only: the report is self-contained, so any other
    fetch is refused (and reported) instead of reaching the network."""
    if hasattr(weasyprint, "URLFetcher"):  # class-based fetchers of recent WeasyPrint
        return weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
        if not url.startswith("data:"):
            raise ValueError(f"the report must not fetch {url!r}")
        return weasyprint.default_url_fetcher(url, *args, **kwargs)

    return fetch
