"""`curate report` on a run whose OUTPUT is on S3 (moto's server on loopback): everything is read
through the store and the page is written inside the run, the same page as for the same run on
the local disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from curate.api import Pipeline
from curate.store.layout import WorkStore
from tests.conftest import CURATE, ROOT, SAMPLE
from tests.report.html_page import Element, parse, table_rows

s3fs = pytest.importorskip("s3fs")


def _pipeline() -> Pipeline:
    return (Pipeline("s3report").add("normalize").add("token_count").add("heuristics", sets=["gopher_quality"])
            .add("filter").add("exact_dedup"))


def _tables(tree: Element) -> tuple[list, list]:
    reasons = [[c.attrs.get("data-value", c.text) for c in row] for row in table_rows(tree.by_id("reasons-table"))]
    bins = [g.iter("title")[0].text for g in tree.by_id("signals").by_class("bin")]
    return reasons, bins


def test_report_of_a_run_on_s3_is_written_inside_it(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/out"
    _pipeline().run(SAMPLE, uri, workers=1, keep_rejected=True)
    _pipeline().run(SAMPLE, tmp_path / "out", workers=1, keep_rejected=True)
    r = subprocess.run([*CURATE, "report", uri, "--storage-option", f"endpoint_url={s3_server}"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    store = WorkStore.open(uri)
    assert r.stdout.strip() == f"{uri}{store.report_file[len(store.root):]}"
    fs = s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True, use_listings_cache=False)
    remote = parse(fs.cat_file(store.report_file).decode("utf-8"))
    import curate

    local = parse(Path(curate.report(tmp_path / "out")).read_text(encoding="utf-8"))
    reasons, bins = _tables(remote)
    assert reasons and bins and (reasons, bins) == _tables(local)
    assert len(remote.by_id("examples").by_class("example")) == len(local.by_id("examples").by_class("example")) > 0
