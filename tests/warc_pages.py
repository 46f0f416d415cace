"""Realistic web pages and WARC/WET files made with warcio, for the WARC reader's tests and the
HTML-extraction benchmark: each page has a main article among scripts, styles, navigation, a
cookie banner, a sidebar and a footer, the boilerplate a crawl is full of."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np

TOPICS = ["river", "bridge", "harvest", "library", "orchestra", "glacier", "market", "lighthouse"]
WORDS = ("the of and to in is was for on that with as by at from this which were are be an have it their has "
         "been its but not also they more one other can after first new two time years city people used").split()


def article(rng: np.random.Generator, topic: str, n_paragraphs: int) -> list[str]:
    """Paragraphs of article text about `topic` (each a few sentences)."""
    paragraphs = []
    for _ in range(n_paragraphs):
        sentences = []
        for _ in range(int(rng.integers(3, 6))):
            words = list(rng.choice(WORDS, int(rng.integers(8, 16))))
            words.insert(int(rng.integers(0, len(words))), topic)
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    return paragraphs


# How the article is wrapped: semantic HTML5, a blog theme's divs, or bare divs and line breaks.
LAYOUTS = {
    "html5": ("<main><article><h1>{title}</h1><p class=\"byline\">By Staff Writer, 3 March 2024</p>\n{body}\n"
              "</article></main>"),
    "blog": ("<div id=\"content\"><div class=\"post entry-content\"><h2 class=\"entry-title\">{title}</h2>\n{body}\n"
             "<div class=\"comments\"><h4>3 comments</h4><div class=\"comment\">Great post, thanks! Visit my "
             "site for cheap watches</div></div></div></div>"),
    "divs": "<div class=\"c\"><div><b>{title}</b></div>\n{body}\n</div>",
}


def page(rng: np.random.Generator, i: int, layout: str = "html5") -> tuple[str, str, list[str]]:
    """(url, HTML, the article's paragraphs) of one page."""
    topic = TOPICS[i % len(TOPICS)]
    title = f"The {topic} of town {i}"
    paragraphs = article(rng, topic, int(rng.integers(3, 7)))
    tag = "div" if layout == "divs" else "p"
    body = LAYOUTS[layout].format(title=title, body="\n".join(f"<{tag}>{p}</{tag}>" for p in paragraphs))
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Daily Example</title>
<style>body {{ font-family: sans-serif }} .nav li {{ display: inline }}</style>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}} gtag('js', new Date());</script>
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. By continuing to browse you accept our
<a href="/privacy">cookie policy</a>. <button>Accept all cookies</button></div>
<header><nav class="nav"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li><li><a href="/login">Sign in</a></li></ul></nav></header>
{body}
<aside class="sidebar"><h3>Most read</h3><ul><li><a href="/a">Ten things you missed this week</a></li>
<li><a href="/b">Subscribe to our newsletter</a></li></ul></aside>
<footer><p>Copyright 2024 Daily Example Ltd. All rights reserved.</p><a href="/terms">Terms of use</a>
<a href="/privacy">Privacy policy</a></footer>
<script src="/static/app.js"></script><script>trackPageView({i});</script>
</body></html>"""
    return f"https://news{i % 5}.example.com/{topic}/{i}", html, paragraphs


def write_warc(path: Path, n_pages: int, seed: int = 0) -> dict[str, list[str]]:
    """A gzipped WARC as a crawler writes it: per page a request and a response record, plus a
    PDF (non-HTML), a 404 page and a warcinfo record. Returns url -> article paragraphs."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rng = np.random.default_rng(seed)
    truth: dict[str, list[str]] = {}
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=path.name.endswith(".gz"))
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test-crawler/1.0"}))

        def response(url: str, status: str, content_type: str, body: bytes) -> None:
            req = w.create_warc_record(url, "request", payload=BytesIO(b""),
                                       http_headers=StatusAndHeaders(f"GET {url} HTTP/1.1", [], is_http_request=True))
            w.write_record(req)
            headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=BytesIO(body), http_headers=headers))

        for i in range(n_pages):
            url, html, paragraphs = page(rng, i)
            charset = "utf-8" if i % 3 else "iso-8859-1"
            response(url, "200 OK", f"text/html; charset={charset}", html.encode(charset))
            truth[url] = paragraphs
        response("https://files.example.com/report.pdf", "200 OK", "application/pdf", b"%PDF-1.4 binary")
        response("https://news0.example.com/missing", "404 Not Found", "text/html", b"<html><body>Not found</body></html>")
    return truth


def write_wet(path: Path, texts: dict[str, str]) -> None:
    """A WET file: a warcinfo record and one conversion record (plain text) per url."""
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=path.name.endswith(".gz"))
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test-extractor/1.0"}))
        for url, text in texts.items():
            w.write_record(w.create_warc_record(url, "conversion", payload=BytesIO(text.encode("utf-8")),
                                                warc_content_type="text/plain"))
