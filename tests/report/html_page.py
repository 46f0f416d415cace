"""The report page read back with the standard library's HTML parser: elements as a tree, found
by tag, id and class; tables as rows of cells; SVG fragments checked as XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)  # text directly inside

    @property
    def text(self) -> str:
        """All text inside, in document order."""
        out: list[str] = []
        self._collect(out)
        return "".join(out)

    def _collect(self, out: list[str]) -> None:
        out.extend(self.parts)
        for child in self.children:
            child._collect(out)

    def iter(self, tag: str | None = None) -> list[Element]:
        found = [self] if tag is None or self.tag == tag else []
        for child in self.children:
            found += child.iter(tag)
        return found

    def by_id(self, ident: str) -> Element:
        matches = [e for e in self.iter() if e.attrs.get("id") == ident]
        assert len(matches) == 1, f"{len(matches)} elements with id {ident!r}"
        return matches[0]

    def by_class(self, cls: str) -> list[Element]:
        return [e for e in self.iter() if cls in (e.attrs.get("class") or "").split()]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(html: str) -> Element:
    """The page as a tree; every element must be closed in order (the page is well formed)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements: " + ", ".join(e.tag for e in builder.stack[1:])
    return builder.root


def table_rows(table: Element) -> list[list[Element]]:
    """The body rows of a table, each a list of its cells."""
    body = table.iter("tbody")[0]
    return [row.iter("td") for row in body.iter("tr")]


def header(table: Element) -> list[str]:
    return [th.text for th in table.iter("th")]


def value(cell: Element) -> float | None:
    """A numeric cell's exact value (its data-value), None when empty."""
    raw = cell.attrs["data-value"]
    return None if raw == "" else float(raw)


def svg_fragments(html: str) -> list[ET.Element]:
    """Every inline <svg> element, parsed as XML (so each one is well formed)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]
