"""The documentation holds together: README.md stays a landing page (at most 250 lines), and every
relative link in README.md and docs/*.md points to a file of the repository and, with a
``#fragment``, to a heading of that file (GitHub's anchors)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the target ends at whitespace (an optional "title" follows).
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` outside fenced code blocks, inline code blanked out."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1) == fence:
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        out.append((number, _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)))
    return out


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its rendered text, lower case, punctuation dropped
    (``-`` and ``_`` kept), spaces become hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor; a repeated one gets ``-1``, ``-2``, … as on GitHub."""
    found: set[str] = set()
    seen: Counter[str] = Counter()
    fence: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1) == fence:
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        heading = _HEADING.match(line)
        if heading is None:
            continue
        slug = github_slug(heading.group(2))
        found.add(slug if seen[slug] == 0 else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return found


def relative_links(path: Path) -> list[tuple[int, str]]:
    """``(line number, target)`` of every link that is not a URL with a scheme (http, mailto)."""
    links: list[tuple[int, str]] = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        for match in _LINK.finditer(line):
            target = match.group(1)
            if not _SCHEME.match(target):
                links.append((number, target))
    return links


def broken_links(path: Path) -> list[str]:
    problems: list[str] = []
    for number, target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        root = ROOT.resolve()
        if root not in linked.parents and linked != root:
            problems.append(f"{where}: leaves the repository")
            continue
        if not linked.exists():
            problems.append(f"{where}: no such file")
            continue
        if fragment:
            if linked.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif unquote(fragment) not in anchors(linked):
                problems.append(f"{where}: no heading with that anchor")
    return problems


def test_the_readme_is_a_landing_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; at most {README_MAX_LINES}: move references to docs/"
    )


def test_the_docs_exist_and_the_readme_links_every_page() -> None:
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert len(pages) > 1
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for _, target in relative_links(README)
        if target.partition("#")[0]
    }
    missing = [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in linked]
    assert missing == [], f"README.md does not link {missing}"


def test_the_docs_index_links_every_page() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for _, t in relative_links(index)}
    pages = [p for p in sorted((ROOT / "docs").glob("*.md")) if p != index]
    missing = [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in linked]
    assert missing == [], f"docs/README.md does not list {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Kubernetes (Helm)", "kubernetes-helm"),
        ("Install as a systemd service", "install-as-a-systemd-service"),
        ("`[pool] id` and `fee_bps`", "pool-id-and-fee_bps"),
        ("Ledger HTTP API", "ledger-http-api"),
        ("What a [link](x.md) does", "what-a-link-does"),
        ("Latest figures: 1.9 ms", "latest-figures-19-ms"),
    ],
)
def test_github_slugs(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_the_checker_finds_broken_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: a missing file, a missing anchor, and no false alarm on code."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "\n".join(
            [
                "# Top",
                "[ok](docs/a.md) [ok](docs/a.md#same-1) [ok](#top) [web](https://x.org/#nope)",
                "[gone](docs/b.md) [no anchor](docs/a.md#other) [self](#nowhere)",
                "`[in code](docs/c.md)`",
                "```",
                "[in a block](docs/d.md)",
                "```",
            ]
        ),
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "README.md:3: docs/b.md: no such file",
        "README.md:3: docs/a.md#other: no heading with that anchor",
        "README.md:3: #nowhere: no heading with that anchor",
    ]
