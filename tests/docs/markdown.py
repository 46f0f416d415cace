"""Reading the project's Markdown as GitHub renders it: its pages, fenced blocks, links and heading anchors,
for the tests that check the README and docs/ (every relative link resolves, every example runs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

FENCE = re.compile(r"^(```+|~~~+)(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
# a runnable block is announced by this comment on the line before its fence; NAME groups blocks
RUNNABLE = re.compile(r"^<!--\s*runnable:\s*([\w-]+)\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts (the fence's line, 1-based), its info string, its text, and the
    name given by a `<!-- runnable: NAME -->` comment right before it (or None)."""

    path: Path
    line: int
    info: str
    code: str
    runnable: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every Markdown page of docs/ (not the repository's other Markdown files)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a page, in order."""
    found, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m.group(1), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        before = lines[start - 1].strip() if start else ""
        name = RUNNABLE.match(before)
        found.append(Block(path, start + 1, m.group(2).strip(), "\n".join(lines[start + 1:j]) + "\n",
                           name.group(1) if name else None))
        i = j + 1
    return found


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line, text) of the lines outside fenced blocks."""
    out, fence = [], None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and line.startswith(fence):
            fence = None
        elif fence is None:
            out.append((n, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: inline markup dropped, lowercased, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a page's headings make (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(path):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link and image outside code blocks and inline code."""
    out = []
    for n, line in prose_lines(path):
        line = re.sub(r"`[^`]*`", "", line)
        for m in LINK.finditer(line):
            out.append((n, m.group(1) or m.group(2)))
    return out
