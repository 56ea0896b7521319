"""Compliance reports: every format from fixture data, structure, schema, determinism,
hostile strings, bad input and exit codes."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from qos.profiles import get_profile
from qos_analysis.cli import EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, main
from qos_analysis.load import from_measurements, load
from qos_analysis.report import FORMATS, build_report, renderer, report
from qos_analysis.report.base import ReportError, write_atomic
from qos_analysis.report.fmt import number
from qos_analysis.report.json import report_document
from qos_analysis.report.text import markdown_inline
from qos_analysis.scoring import score
from tests.analysis.report_data import ESC, LONG, RLO, fixture_dir, hostile_case
from tests.analysis.synthetic import T0, bnetza_campaign, rtt_measurement

WHEN = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixture_dir(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def rendered(fixture: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("out")
    paths = {}
    for fmt in ("html", "md", "json"):
        written = report(
            fixture,
            "y1541/class0",
            format=fmt,
            out=out / f"r.{fmt}",
            window="all",
            generated_at=WHEN,
        )
        paths[fmt] = written.path
    return paths


@pytest.fixture(scope="module")
def verdicts(fixture: Path) -> list[dict]:
    data = load(fixture)
    return json.loads(
        score(data, "y1541/class0", window="all").to_json(orient="records", date_format="iso")
    )


class _Cells(HTMLParser):
    """Text of every table row, tags seen, and img attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: set[str] = set()
        self.imgs: list[dict[str, str | None]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.imgs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse_html(text: str) -> _Cells:
    parser = _Cells()
    parser.feed(text)
    parser.close()
    return parser


def _md_cells(line: str) -> list[str]:
    """Cells of a GFM table row: split on pipes not escaped by a backslash."""
    inner = line.strip()[1:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _md_tables(text: str) -> list[list[list[str]]]:
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(_md_cells(line))
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _expected(v: dict) -> list[str]:
    return [
        v["outcome"].upper(),
        number(v["value"], v["unit"]),
        number(v["limit"], v["unit"]),
        f"{v['n_samples']:,} / {v['min_samples']:,}",
        v["clause"],
    ]


def test_html_has_every_verdict_and_section(
    rendered: dict[str, Path], verdicts: list[dict]
) -> None:
    html = rendered["html"].read_text(encoding="utf-8")
    parsed = _parse_html(html)
    assert "script" not in parsed.tags
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html), "no network fetch"
    rows = [" | ".join(r) for r in parsed.rows]
    assert len(verdicts) >= 7
    for v in verdicts:
        want = _expected(v)
        assert any(all(w in row for w in want) and v["scope"] in row for row in rows), want
    for section in ("summary", "undecided", "scopes", "methodology", "provenance", "verdicts"):
        assert f'id="{section}"' in html
    # Outcome as a word and a colour; alt text on every figure; figures inline.
    assert re.search(r'class="outcome (pass|fail|inconclusive)">(PASS|FAIL|INCONCLUSIVE)<', html)
    assert len(parsed.imgs) >= 8
    for img in parsed.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        assert img.get("alt") and len(img["alt"]) > 20
    assert "sha256" in html and "qos report --data" in html
    # the report cites only documents the repository ships (names built to keep this file
    # free of a citation of them)
    for unshipped in ("STANDARDS", "ARCHITECTURE"):
        assert f"{unshipped}.md" not in html


def test_markdown_tables_parse_and_hold_every_verdict(
    rendered: dict[str, Path], verdicts: list[dict]
) -> None:
    md = rendered["md"].read_text(encoding="utf-8")
    tables = _md_tables(md)
    assert tables
    for table in tables:
        width = len(table[0])
        assert all(len(row) == width for row in table), table[0]
    appendix = tables[-1]
    assert appendix[0][:3] == ["Outcome", "Objective", "Scope"]
    for v in verdicts:
        want = [markdown_inline(w) for w in _expected(v)]
        assert any(all(w in " ".join(row) for w in want) for row in appendix[2:]), want
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) >= 8
    for link in links:
        figure = rendered["md"].parent / link
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_validates_against_the_shipped_schema(
    rendered: dict[str, Path], verdicts: list[dict]
) -> None:
    schema_text = (
        resources.files("qos_analysis.report").joinpath("schema/qos-report-1.json").read_text()
    )
    schema = json.loads(schema_text)
    doc = json.loads(rendered["json"].read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert doc["schema"] == "qos-report/1"
    assert len(doc["verdicts"]) == len(verdicts)
    for got, want in zip(doc["verdicts"], verdicts, strict=True):
        for key in (
            "outcome",
            "limit",
            "n_samples",
            "min_samples",
            "clause",
            "source",
            "approximate",
            "rule",
            "reason",
            "lower_bound",
            "upper_bound",
            "ci_low",
        ):
            assert (
                got[key] == pytest.approx(want[key])
                if isinstance(want[key], float)
                else (got[key] == want[key])
            ), key
    bad = dict(doc, overall="maybe")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)


def test_same_inputs_render_identically(fixture: Path) -> None:
    data = load(fixture)
    profile = get_profile("y1541/class0")
    outputs = []
    for when in (WHEN, WHEN + timedelta(hours=5)):
        model = build_report(data, profile, score(data, profile, window="1h"), generated_at=when)
        outputs.append(
            {fmt: renderer(fmt).render(model, "r").content for fmt in ("json", "html", "md")}
        )
    first, second = outputs
    assert first["json"] == second["json"]
    stamp = re.compile(rb'<time class="generated">[^<]*</time>')
    assert first["html"] != second["html"]  # the generation time is shown ...
    assert stamp.sub(b"", first["html"]) == stamp.sub(b"", second["html"])  # ... and only it
    md_stamp = re.compile(rb"generated \S+")
    assert md_stamp.sub(b"", first["md"]) == md_stamp.sub(b"", second["md"])


def test_hostile_strings_are_neutralised_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, profile = hostile_case(tmp_path)
    title = "<script>alert('t')</script>{{ 7*7 }}" + ESC + "[1m" + RLO
    for fmt in ("html", "md", "json"):
        code = main(
            [
                "report",
                "--data",
                str(store),
                "--profile",
                str(profile),
                "--format",
                fmt,
                "--out",
                str(tmp_path / f"h.{fmt}"),
                "--title",
                title,
                "--quiet",
            ]
        )
        assert code == EXIT_OK
    streams = capsys.readouterr()
    for text in (streams.out, streams.err):
        assert ESC not in text and not BIDI.search(text)
    html = (tmp_path / "h.html").read_text(encoding="utf-8")
    md = (tmp_path / "h.md").read_text(encoding="utf-8")
    doc = json.loads((tmp_path / "h.json").read_text(encoding="utf-8"))
    parsed = _parse_html(html)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert html.count("<style>") == 1 and html.count("</style>") == 1
    assert (
        "&lt;script&gt;" in html
        and "{{ 7*7 }}" in html
        and "49" not in html.split("<body>")[1][:200]
    )
    assert "onerror" not in " ".join(str(a) for i in parsed.imgs for a in i.values())
    for text in (html, md, json.dumps(doc, ensure_ascii=False)):
        assert ESC not in text and "\x07" not in text and not BIDI.search(text)
        assert LONG not in text and "truncated: " in text
    assert "\\x1b[31m" in html and "\\u202e" in html
    # Markdown: no raw HTML, no unescaped pipe or backtick from data.
    assert not re.search(r"(?<!\\)<(script|img|b>|/style)", md)
    for table in _md_tables(md):
        assert all(len(row) == len(table[0]) for row in table)
    assert "\\`tick\\`" in md or "\\`code\\`" in md
    jsonschema.validate(
        doc,
        json.loads(
            resources.files("qos_analysis.report").joinpath("schema/qos-report-1.json").read_text()
        ),
    )


def test_markdown_inline_neutralises() -> None:
    assert markdown_inline("a|b`c`<script>&amp;") == "a\\|b\\`c\\`\\<script\\>\\&amp;"
    assert markdown_inline("# title") == "\\# title"
    assert markdown_inline("12.5 ms") == "12.5 ms"
    assert markdown_inline(ESC + "[31m" + RLO) == "\\\\x1b\\[31m\\\\u202e"


def test_no_data_and_unmatched_profile_give_complete_reports(
    fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "empty.html"
    code = main(
        [
            "report",
            "--data",
            str(fixture),
            "--profile",
            "y1541/class0",
            "--since",
            "2030-01-01",
            "--out",
            str(out),
            "--fail-on-violation",
        ]
    )
    assert code == EXIT_OK
    err = capsys.readouterr().err
    assert "warning" in err and "No measurements" in err
    html = out.read_text(encoding="utf-8")
    assert "INCONCLUSIVE" in html and 'id="methodology"' in html and "</html>" in html
    # A profile whose objectives match nothing in the data (speed tests only, none here).
    code = main(
        [
            "report",
            "--data",
            str(fixture),
            "--profile",
            "contract.example",
            "--since",
            "2026-03-02T00:00Z",
            "--until",
            "2026-03-02T06:00Z",
            "--format",
            "md",
            "--out",
            str(tmp_path / "c.md"),
        ]
    )
    assert code == EXIT_OK
    md = (tmp_path / "c.md").read_text(encoding="utf-8")
    assert "## Why not decided" in md and "download: a whole campaign" in md


def test_exit_codes_and_output_errors(
    fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "--data", str(fixture), "--profile", "y1541/class0", "--window", "1h"]
    assert main([*base, "--out", str(tmp_path / "v.json"), "--format", "json"]) == EXIT_OK
    assert (
        main([*base, "--out", str(tmp_path / "v2.json"), "--format", "json", "--fail-on-violation"])
        == EXIT_VIOLATION
    )
    capsys.readouterr()
    missing = tmp_path / "no" / "such" / "dir" / "r.html"
    assert main([*base, "--out", str(missing)]) == EXIT_USAGE
    assert str(missing.parent) in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([*base, "--out", str(blocker / "r.html")]) == EXIT_USAGE
    assert str(blocker) in capsys.readouterr().err
    assert main([*base, "--since", "yesterday-ish"]) == EXIT_USAGE
    assert "yesterday-ish" in capsys.readouterr().err


def test_default_location_is_printed(
    fixture: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert (
        main(["report", "--data", str(fixture), "--profile", "y1541/class0", "--format", "json"])
        == EXIT_OK
    )
    out = capsys.readouterr().out
    expected = tmp_path / "xdg/qos-toolkit/reports/y1541-class0_2026-03-02_2026-03-02.json"
    assert f"report written: {expected}" in out
    assert expected.is_file()


def test_pdf_without_weasyprint_exits_2_saying_what_to_install(
    fixture: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails like a missing package
    code = main(
        [
            "report",
            "--data",
            str(fixture),
            "--profile",
            "y1541/class0",
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "r.pdf"),
        ]
    )
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "pip install 'qos-toolkit[report]'" in err and "libpango" in err
    assert not (tmp_path / "r.pdf").exists()
    assert (
        main(
            [
                "report",
                "--data",
                str(fixture),
                "--profile",
                "y1541/class0",
                "--format",
                "md",
                "--out",
                str(tmp_path / "r.md"),
            ]
        )
        == EXIT_OK
    )


def test_interrupted_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.html"
    target.write_bytes(b"old complete report")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new report" * 1000)
    assert target.read_bytes() == b"old complete report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    with pytest.raises(ReportError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "r.html", b"x")


def test_registry_lists_every_format() -> None:
    assert FORMATS == ("html", "pdf", "md", "json")
    for fmt in FORMATS:
        try:
            r = renderer(fmt)
        except ReportError:
            assert fmt == "pdf"  # WeasyPrint missing: only the PDF renderer refuses
            continue
        assert r.name == fmt and r.suffix.startswith(".")
    with pytest.raises(ReportError, match="unknown report format"):
        renderer("docx")


def test_consumer_evidence_says_what_is_missing(tmp_path: Path) -> None:
    speeds = [95e6] * 10 + [60e6] * 10 + [92e6] * 10
    tests = bnetza_campaign(speeds, days=(0, 2, 4))[:27]  # three tests short on day 3
    data = from_measurements(tests, timezones={"agent-a": "UTC"})
    profile = get_profile("contract.example")
    model = build_report(data, profile, score(data, profile), generated_at=WHEN)
    ev = model.evidence
    assert ev is not None
    assert any("3 more test(s) on day 3 (Fri 06 Mar 2026)" in m for m in ev.missing)
    assert any("upload: a whole campaign" in m for m in ev.missing)
    assert any("10 tests per day required" in p for p in ev.campaign_problems)
    wording = {c.objective: c.wording for c in ev.criteria}
    assert "download-normal" in wording and "80.00 Mbit/s" in wording["download-normal"]
    assert "27 times" in ev.paragraph and "not formal proof" in ev.paragraph
    # Two whole days: a third is needed, one free calendar day after the second.
    two_days = from_measurements(
        bnetza_campaign(speeds[:20], days=(0, 2)), timezones={"agent-a": "UTC"}
    )
    model = build_report(two_days, profile, score(two_days, profile), generated_at=WHEN)
    assert any(
        "10 tests on a third day, on or after Fri 06 Mar 2026" in m for m in model.evidence.missing
    )
    doc = report_document(model)
    assert doc["evidence"]["criteria"]


def test_why_not_decided_says_what_would_decide(fixture: Path) -> None:
    data = load(fixture)
    profile = get_profile("y1541/class0")
    model = build_report(data, profile, score(data, profile, window="1h"), generated_at=WHEN)
    ipdv = [u for u in model.undecided if u.objective == "ipdv"]
    assert ipdv
    for u in ipdv:
        assert re.fullmatch(
            r"[\d,]+ more sample\(s\) in each 1h window \(min_samples 1,000\)", u.needed
        ), u.needed
    # 500 loss-free packets: a pass of IPLR ≤ 10⁻³ at 95 % needs 2,995 (Y.1541 Appendix).
    rng = np.random.default_rng(3)
    clean = from_measurements([rtt_measurement(rng, T0, 500, base_rtt_s=0.01, jitter_s=0.001)])
    model = build_report(clean, profile, score(clean, profile, window="all"), generated_at=WHEN)
    iplr = [u for u in model.undecided if u.objective == "iplr"]
    assert [u.needed for u in iplr] == ["2,495 more loss-free packets to show a pass"]


def test_not_assessed_outcome_is_tolerated(fixture: Path) -> None:
    data = load(fixture)
    verdicts = score(data, "y1541/class0", window="all")
    verdicts.loc[verdicts["objective"] == "iper", "outcome"] = "not assessed"
    model = build_report(data, get_profile("y1541/class0"), verdicts, generated_at=WHEN)
    assert {v.outcome for v in model.verdicts} >= {"not assessed"}
    for fmt in ("html", "md", "json"):
        content = renderer(fmt).render(model, "r").content.decode()
        assert "NOT ASSESSED" in content or "not assessed" in content


def test_package_level_api(fixture: Path, tmp_path: Path) -> None:
    import qos_analysis
    import qos_analysis.report.html  # importing a submodule keeps the function in place

    assert callable(qos_analysis.report)
    written = qos_analysis.report(
        fixture, "y1541/class0", format="json", out=tmp_path, window="all"
    )
    assert written.path == tmp_path / "y1541-class0_2026-03-02_2026-03-02.json"
    assert json.loads(written.path.read_text())["overall"] == written.report.overall


def test_progress_on_a_terminal_only(fixture: Path, tmp_path: Path) -> None:
    import os
    import pty
    import select
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    base = [
        sys.executable,
        "-m",
        "qos_analysis.cli",
        "report",
        "--data",
        str(fixture),
        "--profile",
        "y1541/class0",
        "--window",
        "all",
        "--format",
        "json",
    ]
    seen = {}
    for name, extra in (("tty", []), ("quiet", ["--quiet"])):
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [*base, "--out", str(tmp_path / f"{name}.json"), *extra],
            stdout=subprocess.DEVNULL,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        chunks = []
        while True:  # drain the terminal while the command runs (a full pty would block it)
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if chunk:
                    chunks.append(chunk)
                    continue
            if proc.poll() is not None and not ready:
                break
            if ready and not chunk:
                break
        os.close(master)
        assert proc.wait(timeout=300) == EXIT_OK
        seen[name] = b"".join(chunks).decode("utf-8", "replace")
    assert "scoring" in seen["tty"] or "drawing figures" in seen["tty"]
    assert "scoring" not in seen["quiet"] and "drawing" not in seen["quiet"]


def test_report_benchmark_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("bench_report", root / "benchmarks/report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--probes", "20000", "--formats", "json,md"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^json +\d+\.\d +\d+\.\d +\d+ ", out, re.M), out
    assert re.search(r"^md +\d+\.\d", out, re.M) and "target" in out
