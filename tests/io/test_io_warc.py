"""WARC and WET input: warcio-written files with realistic pages; HTML becomes main-content text,
crawl metadata becomes columns, non-HTML and non-200 records are counted rejections."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from tests.conftest import read_output, rejected_dir

pytest.importorskip("warcio")
pytest.importorskip("resiliparse")
from tests.warc_pages import write_warc, write_wet  # noqa: E402


def _run(src: Path, out: Path) -> tuple[dict, list[dict]]:
    result = Pipeline.from_stages(["passthrough"]).run(src, out, workers=2, keep_rejected=True)
    return result.stats, read_output(out).to_pylist()


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_warc_pages_become_their_article_text(tmp_path: Path, name: str) -> None:
    (tmp_path / "in").mkdir()
    truth = write_warc(tmp_path / "in" / name, n_pages=12)
    stats, rows = _run(tmp_path / "in", tmp_path / "out")
    assert sorted(r["url"] for r in rows) == sorted(truth)
    for r in rows:
        text = r["text"]
        for paragraph in truth[r["url"]]:
            assert paragraph in text  # the whole article, paragraph by paragraph, each on its own line
        for boilerplate in ("cookies", "Sign in", "gtag", "trackPageView", "All rights reserved", "Most read",
                            "font-family"):
            assert boilerplate not in text, (boilerplate, text[:300])
        assert r["id"].startswith("<urn:uuid:") and r["date"].startswith("20")
        assert r["content_type"].startswith("text/html") and r["http_status"] == 200
        assert len(text.splitlines()) >= len(truth[r["url"]])  # lines kept for line-based rules
    read = next(s for s in stats["stages"] if s["stage"] == "read")
    assert read["rejected"] == {"warc:not_html": 1, "warc:http_status": 1}
    assert read["docs_in"] == 14  # request and warcinfo records are not documents
    rejected = pq.read_table(rejected_dir(tmp_path / "out")).to_pylist()
    by_reason = {r["reject_reason"]: r for r in rejected}
    assert by_reason["warc:not_html"]["content_type"] == "application/pdf"
    assert by_reason["warc:http_status"]["http_status"] == 404


def test_wet_conversion_records(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    texts = {f"https://site.example/{i}": f"Extracted text {i}.\nSecond line of page {i}." for i in range(5)}
    write_wet(tmp_path / "in" / "CC-MAIN-00000.warc.wet.gz", texts)
    _, rows = _run(tmp_path / "in", tmp_path / "out")
    assert {r["url"]: r["text"] for r in rows} == texts
    assert {r["content_type"] for r in rows} == {"text/plain"} and all(r["http_status"] is None for r in rows)
