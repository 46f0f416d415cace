"""HTML text extraction for WARC input: resiliparse (what curate uses) against trafilatura (what
FineWeb uses, through datatrove), on the same generated pages: pages/s and MB/s of HTML on one
core, and how much of the article each keeps (recall) and how much of what it keeps is article
(precision), word by word, per page layout.

The pages (tests/warc_pages.py) put a known article among scripts, styles, navigation, a cookie
banner, a sidebar, comments and a footer, in three layouts (semantic HTML5, a blog theme's
divs, bare divs), so both the speed and the text can be checked against the truth.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, scale_arg  # noqa: E402

sys.path.insert(0, str(ROOT))
from curate.io.warc import html_to_text  # noqa: E402
from tests.warc_pages import LAYOUTS, page  # noqa: E402

_WORD = re.compile(r"\w+")


def _words(text: str) -> Counter:
    return Counter(_WORD.findall(text.lower()))


def trafilatura_text(html: str) -> str:
    """trafilatura as datatrove's Trafilatura extractor calls it for FineWeb (favor_precision,
    no comments, deduplicate)."""
    import trafilatura

    return trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True) or ""


def measure(extract, pages: list[tuple[bytes, list[str]]]) -> tuple[float, float, float]:
    """(seconds, mean word recall, mean word precision) of `extract` over `pages` (the article's
    paragraphs are the truth; its title counts as neither)."""
    t0 = time.perf_counter()
    outputs = [extract(html) for html, _ in pages]
    seconds = time.perf_counter() - t0
    recall, precision = [], []
    for (_, paragraphs), text in zip(pages, outputs):
        truth, got = _words(" ".join(paragraphs)), _words(re.sub(r"The \w+ of town \d+", "", text))
        common = sum((truth & got).values())
        recall.append(common / max(1, sum(truth.values())))
        precision.append(common / max(1, sum(got.values())))
    return seconds, float(np.mean(recall)), float(np.mean(precision))


def main() -> None:
    n = 600 if scale_arg() == "small" else 3000
    rng = np.random.default_rng(0)
    extractors = {"resiliparse (curate)": lambda b: html_to_text(b, "text/html; charset=utf-8"),
                  "trafilatura (FineWeb settings)": lambda b: trafilatura_text(b.decode("utf-8"))}
    print(f"### html_extract: WARC HTML to text, resiliparse vs trafilatura ({n} pages per layout, 1 core)\n")
    print("| layout | extractor | pages/s | MB/s of HTML | article recall | precision |")
    print("|---|---|---|---|---|---|")
    speeds: dict[str, list[float]] = {k: [] for k in extractors}
    for layout in LAYOUTS:
        pages = [(html.encode(), paragraphs) for _, html, paragraphs in (page(rng, i, layout) for i in range(n))]
        mb = sum(len(h) for h, _ in pages) / 1e6
        for name, fn in extractors.items():
            fn(pages[0][0])  # warm-up (imports, first parse)
            seconds, recall, precision = measure(fn, pages)
            speeds[name].append(n / seconds)
            print(f"| {layout} | {name} | {n / seconds:,.0f} | {mb / seconds:.1f} | {recall:.3f} | {precision:.3f} |")
    ratio = np.mean(speeds["resiliparse (curate)"]) / np.mean(speeds["trafilatura (FineWeb settings)"])
    print(f"\nresiliparse is {ratio:.1f}x faster than trafilatura on these pages.")


if __name__ == "__main__":
    main()
