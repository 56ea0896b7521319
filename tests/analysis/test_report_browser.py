"""The HTML report in a real browser (headless Chromium) and the PDF through poppler.

Chromium runs with the network cut off (every host name resolves to nothing, a dead proxy)
on a test copy of the report with a small script injected at the top of <head> that
records JavaScript errors, console errors and failed resource loads, then writes its
checks into the DOM, which ``--dump-dom`` returns.  The original report has no script.
A screenshot of the unmodified report must not be blank.  Set ``QOS_REPORT_SCREENSHOT`` to
a path to keep the screenshot (docs/report-first-page.png is made this way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from qos_analysis.report import report
from tests.analysis.report_data import fixture_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WHEN = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var t = e.target || {};
  var what = t.tagName ? "resource " + t.tagName + " " + (t.src || t.href || "")
                        : "script " + e.message;
  window.__errors.push(what.slice(0, 120));
}, true);
(function () { var orig = console.error;
  console.error = function () { window.__errors.push("console " + Array.from(arguments).join(" "));
                                orig.apply(console, arguments); }; })();
window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var res = performance.getEntriesByType("resource")
    .map(function (r) { return r.name.slice(0, 40); });
  var out = document.createElement("pre");
  out.id = "qos-checks";
  out.textContent = JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    widths: imgs.map(function (i) { return i.naturalWidth; }),
    errors: window.__errors,
    remote: res.filter(function (n) { return !n.startsWith("data:"); }),
    height: document.documentElement.scrollHeight
  });
  document.body.appendChild(out);
});
</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        f"--user-data-dir={tmp / 'profile'}",
        "--hide-scrollbars",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _not_blank(png: Path) -> tuple[float, float]:
    """(share of pixels unlike the most common colour, standard deviation)."""
    pixels = mpimg.imread(png)[..., :3].reshape(-1, 3)
    quant = np.round(pixels * 255).astype(np.int32)
    keys = quant[:, 0] * 65536 + quant[:, 1] * 256 + quant[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    background = values[np.argmax(counts)]
    return float(np.mean(keys != background)), float(pixels.std())


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    written = report(
        fixture_dir(root),
        "y1541/class0",
        format="html",
        out=root / "report.html",
        window="1h",
        generated_at=WHEN,
    )
    return written.path


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: chromium)")
def test_html_report_in_headless_chromium(html_report: Path, tmp_path: Path) -> None:
    html = html_report.read_text(encoding="utf-8")
    assert "<script" not in html
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    run = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="qos-checks">(.*?)</pre>', run.stdout, re.S)
    assert found, f"no checks in the DOM; stderr: {run.stderr[-2000:]}"
    checks = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert checks["errors"] == []
    assert checks["remote"] == []
    assert checks["images"] >= 8 and checks["loaded"] == checks["images"]
    assert min(checks["widths"]) > 0
    shot = tmp_path / "page.png"
    run = _chromium(
        tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", html_report.as_uri()
    )
    assert shot.is_file(), run.stderr[-2000:]
    ink, spread = _not_blank(shot)
    assert ink > 0.02 and spread > 0.03, (ink, spread)
    keep = os.environ.get("QOS_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm not installed (Debian: poppler-utils)"
)
def test_pdf_report_pages(tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="WeasyPrint not installed (pip: qos-toolkit[report])")
    written = report(
        fixture_dir(tmp_path),
        "y1541/class0",
        format="pdf",
        out=tmp_path / "r.pdf",
        window="1h",
        generated_at=WHEN,
    )
    pdf = written.path
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "p")], check=True, timeout=120
    )
    pages = sorted(tmp_path.glob("p-*.png"))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert len(pages) == count >= 3
    ink, spread = _not_blank(pages[0])
    assert ink > 0.02 and spread > 0.03, (ink, spread)
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"page 1 of {count}" in first
    assert "Service quality against" in first and "2026-03-02" in first  # running header
    assert "Executive summary" in first
