"""Every relative link of README.md and docs/*.md leads to a file of the repository, and every
`#anchor` to a heading of its page, as GitHub renders it (issue 30: the README moved into docs/)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tests.conftest import ROOT
from tests.docs.markdown import anchors, links, pages, slug

PAGES = pages()


def test_slug_follows_github() -> None:
    assert slug("Graphs: route, union, fan-out, sinks") == "graphs-route-union-fan-out-sinks"
    assert slug("`decontaminate` (map)") == "decontaminate-map"
    assert slug("Calibration: measuring utility and repetition from proxy runs") == \
        "calibration-measuring-utility-and-repetition-from-proxy-runs"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page) -> None:
    broken = []
    for line, target in links(page):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / unquote(path)).resolve() if path else page
        where = f"{page.relative_to(ROOT)}:{line}: {target}"
        if not file.exists():
            broken.append(f"{where}: no such file")
        elif ROOT.resolve() not in file.parents and file != ROOT.resolve():
            broken.append(f"{where}: outside the repository")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"{where}: no heading makes #{anchor}")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_in_the_index() -> None:
    listed = {target.partition("#")[0] for _, target in links(ROOT / "docs" / "index.md")}
    missing = [p.name for p in PAGES[1:] if p.name != "index.md" and p.name not in listed]
    assert not missing, f"docs/index.md does not link {missing}"
