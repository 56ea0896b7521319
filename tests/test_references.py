"""Every citation in the repository can be followed by a reader of the repository.

* Any Markdown document a tracked text file names (``docs/methods.md``, ``agent/README.md``,
  ``methods.md#91-...``) must exist, either relative to the repository root or to the
  citing file; a Markdown anchor into a document must match one of its headings.
* A section cited as ``docs/methods.md §N`` or ``docs/architecture.md §N`` (also lists and
  ranges: ``§8.2, §9.4``, ``§4.1–4.7``) must exist as a numbered heading of that document,
  so renumbering a section breaks this test instead of the citations.
* Code, comments and documents speak of the code, not of a work tracker a reader does not
  have: "issue 4", "issue 5, item 1" and the like are refused.

The checks run over ``git ls-files``: what a clone contains is what a reader can follow.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(REPO).as_posix()

#: A path-like token ending in ``.md``, optionally followed by a ``#anchor``.  The token
#: may not continue a longer word or path (so the tail of a URL is not taken for a file).
MD_PATH = re.compile(r"(?<![\w/.:-])((?:\.\.?/)*[\w][\w./-]*\.md)(?:#([\w-]+))?\b")
#: A section list after one of our documents: ``§4.8``, ``§8.2, §9.4``, ``§4.1–4.7``.
SECTION_REF = re.compile(
    r"(docs/(?:methods|architecture)\.md)\s+"
    r"(§\d+(?:\.\d+)*(?:\s*(?:,\s*|\s+and\s+|–|-)\s*§?\d+(?:\.\d+)*)*)"
)
SECTION_NUMBER = re.compile(r"\d+(?:\.\d+)*")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.MULTILINE)
NUMBERED_HEADING = re.compile(r"^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
#: Work-item talk: "issue 4", "Issue #12", "issue 5, item 1", "issue \"Foundation\"",
#: "item 3" of a list nobody can see, "built in parallel by others".
WORK_ITEM = re.compile(
    r"\bissues?\s+#?\d+|\bissue\s+\"|\bitems?\s+\d+\b|\bbuilt in parallel\b",
    re.IGNORECASE,
)


def tracked_text_files() -> dict[str, str]:
    """Tracked files that decode as UTF-8 text, by repository-relative path."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout to list the tracked files")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    texts: dict[str, str] = {}
    for rel in filter(None, listing.split("\0")):
        path = REPO / rel
        if not path.is_file():  # deleted in the work tree but still tracked
            continue
        raw = path.read_bytes()
        if b"\0" in raw:
            continue
        try:
            texts[rel] = raw.decode("utf-8")
        except UnicodeDecodeError:  # e.g. a fixture that is deliberately not UTF-8
            continue
    return texts


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces → '-'."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def resolve(citing: str, target: str) -> Path | None:
    """The cited file, relative to the citing file's folder or to the repository root
    (MkDocs' ``mkdocs.yml`` names its pages relative to its ``docs_dir``, ``docs/``)."""
    bases = [(REPO / citing).parent, REPO]
    if citing == "mkdocs.yml":
        bases.insert(0, REPO / "docs")
    for base in bases:
        candidate = (base / target).resolve()
        if candidate.is_file() and candidate.is_relative_to(REPO):
            return candidate
    return None


#: In source code a bare lower-case ``name.md`` is a file the code writes (a report's
#: output name, a temporary file in a test), not a citation; folder paths and document
#: names in capitals (``docs/methods.md``, ``README.md``, any upper-case name) are citations.
CODE_FILE_NAME = re.compile(r"^[a-z0-9_-]+\.md$")


def is_citation(citing: str, target: str) -> bool:
    return not (citing.endswith(".py") and CODE_FILE_NAME.match(target))


def missing_documents(citing: str, text: str) -> list[str]:
    """Every ``*.md`` path or anchor in ``text`` that does not exist in the repository."""
    problems = []
    for line_no, line in enumerate(text.splitlines(), 1):
        for match in MD_PATH.finditer(line):
            target, anchor = match.group(1), match.group(2)
            if not is_citation(citing, target):
                continue
            found = resolve(citing, target)
            if found is None:
                problems.append(f"{citing}:{line_no}: {target} does not exist")
            elif anchor and anchor not in anchors(found):
                problems.append(f"{citing}:{line_no}: {target}#{anchor}: no such heading")
    return problems


def anchors(path: Path) -> set[str]:
    return {github_slug(m.group(2)) for m in HEADING.finditer(path.read_text("utf-8"))}


def section_numbers(path: Path) -> set[str]:
    return set(NUMBERED_HEADING.findall(path.read_text("utf-8")))


def missing_sections(citing: str, text: str) -> list[str]:
    """Every ``docs/<doc>.md §N`` whose section N is not a heading of that document."""
    problems = []
    for line_no, line in enumerate(text.splitlines(), 1):
        for match in SECTION_REF.finditer(line):
            doc = REPO / match.group(1)
            if not doc.is_file():
                continue  # reported by missing_documents
            known = section_numbers(doc)
            for number in SECTION_NUMBER.findall(match.group(2)):
                if number not in known:
                    problems.append(f"{citing}:{line_no}: {match.group(1)} §{number} not found")
    return problems


def work_item_references(citing: str, text: str) -> list[str]:
    return [
        f"{citing}:{line_no}: {match.group(0)!r}"
        for line_no, line in enumerate(text.splitlines(), 1)
        for match in WORK_ITEM.finditer(line)
    ]


def test_every_cited_document_exists() -> None:
    problems = [
        problem
        for rel, text in tracked_text_files().items()
        if rel != THIS
        for problem in missing_documents(rel, text)
    ]
    assert not problems, "references to documents the repository does not ship:\n" + "\n".join(
        problems
    )


def test_every_cited_section_exists() -> None:
    problems = [
        problem
        for rel, text in tracked_text_files().items()
        if rel != THIS  # its checker tests cite missing sections on purpose
        for problem in missing_sections(rel, text)
    ]
    assert not problems, "sections cited but not present:\n" + "\n".join(problems)


def test_no_work_item_references() -> None:
    problems = [
        problem
        for rel, text in tracked_text_files().items()
        if rel != THIS
        for problem in work_item_references(rel, text)
    ]
    assert not problems, "say what the code does, not which work item asked for it:\n" + (
        "\n".join(problems)
    )


def test_our_documents_have_the_cited_structure() -> None:
    """The two references exist and are numbered; §9.6 decides verdicts, §2.3 is the store."""
    methods = section_numbers(REPO / "docs" / "methods.md")
    architecture = section_numbers(REPO / "docs" / "architecture.md")
    assert {"4", "4.8", "6.1", "7.3", "8.2", "9.1", "9.3", "9.6", "12.4"} <= methods
    assert {"1", "2.3", "2.7", "4", "5"} <= architecture


# -- the checks themselves can fail ------------------------------------------------------------


def test_checker_flags_a_document_that_is_not_shipped() -> None:
    missing = "NOT" + "SHIPPED.md"
    text = f'"""Formula from {missing} §4.8; see also docs/methods.md and ../docs/nowhere.md."""'
    problems = missing_documents("qos/example.py", text)
    assert len(problems) == 2
    assert missing in problems[0]
    assert "nowhere.md" in problems[1]


def test_checker_ignores_urls_and_resolves_relative_links() -> None:
    text = (
        "https://example.org/spec/README.md and [methods](methods.md#91-confidence-"
        "intervals-for-a-proportion) and [lab](../lab/README.md)"
    )
    assert missing_documents("docs/lab.md", text) == []
    assert missing_documents("docs/lab.md", "[m](methods.md#no-such-heading)") != []


def test_checker_flags_a_section_that_does_not_exist() -> None:
    ok = "RFC 3550 §6.4.1; docs/methods.md §6.1, §9.1–9.3 and §4.8"
    assert missing_sections("qos/example.py", ok) == []
    bad = "docs/methods.md §4.1–4.99 and docs/architecture.md §42"
    problems = missing_sections("qos/example.py", bad)
    assert [p.rsplit(" ", 3)[-3] for p in problems] == ["§4.99", "§42"]


@pytest.mark.parametrize(
    "text",
    ["(issue 4)", "issue 5, item 1", "Issue #12 acceptance", 'issue "Foundation"', "item 3"],
)
def test_checker_flags_work_item_talk(text: str) -> None:
    assert work_item_references("qos/example.py", text) != []


def test_checker_accepts_plain_prose() -> None:
    text = "RFC 7679 §5.2; a known issue with icmplib; items in the queue; issued at T1"
    assert work_item_references("qos/example.py", text) == []
