"""`curate report` on the default pipeline's run of the sample corpus: the page read back with an
HTML parser, its numbers checked against _curate/stats.json, plan.json and buckets.json, and against
the rejected rows and sinks read independently with DuckDB and xxhash."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
import xxhash

from curate.api import Pipeline
from curate.store.layout import WorkStore
from tests.conftest import SAMPLE
from tests.in_process import curate
from tests.report.html_page import Element, header, parse, svg_fragments, table_rows, value

SECTIONS = ("pipeline", "removed", "signals", "duplicates", "plan", "examples")
BIN = re.compile(r"^(?P<column>\S+) .*?: (?P<kept>[\d,]+) kept, (?P<rule>[\d,]+) rejected by this signal's rules, "
                 r"(?P<other>[\d,]+) rejected for another reason$")


@pytest.fixture(scope="module")
def demo_run(default_pipeline: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    Pipeline.from_yaml(default_pipeline).run(SAMPLE, out, workers=2)
    return out


@pytest.fixture(scope="module")
def page(demo_run: Path) -> tuple[str, Element]:
    r = curate("report", str(demo_run))
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path == Path(WorkStore.open(demo_run).report_file)  # where the store keeps it, printed alone
    html = path.read_text(encoding="utf-8")
    return html, parse(html)


def _stats(out: Path) -> dict:
    return json.loads(Path(WorkStore.open(out).stats_file).read_text())


def _rejected(out: Path, node: str = "*") -> str:
    """The glob of a node's `_curate/rejected/` shards, wherever the store keeps them."""
    return f"{Path(WorkStore.open(out).rejected(node, 0)).parent}/*.parquet"


def _meta(out: Path, name: str) -> dict:
    """The one metadata file `name` (plan.json, buckets.json) a node of the run wrote."""
    pattern = Path(WorkStore.open(out).meta("*", name))
    (found,) = pattern.parent.parent.glob(f"*/{name}")
    return json.loads(found.read_text())


def _sql(query: str) -> list[tuple]:
    return duckdb.sql(query).fetchall()


def _bins(figure: Element) -> list[dict[str, int | str]]:
    found = []
    for g in figure.by_class("bin"):
        m = BIN.match(g.iter("title")[0].text)
        assert m, g.iter("title")[0].text
        found.append({k: int(v.replace(",", "")) if k != "column" else v for k, v in m.groupdict().items()})
    return found


def _figure(tree: Element, column: str) -> Element:
    found = [f for f in tree.iter("figure") if f.attrs.get("data-column") == column]
    assert len(found) == 1, column
    return found[0]


def test_the_page_is_self_contained_and_well_formed(page: tuple[str, Element]) -> None:
    html, tree = page
    for sid in SECTIONS:
        assert tree.by_id(sid).tag == "section"
    assert not tree.iter("script") and not tree.iter("img") and not tree.iter("link")
    assert not re.search(r'(src|href)="(?!#)', html)  # nothing fetched: only links within the page
    svgs = svg_fragments(html)
    assert len(svgs) == len(tree.iter("svg")) > 20  # every chart is inline SVG, each one well-formed XML


def test_stage_and_sink_tables_are_the_stats(demo_run: Path, page: tuple[str, Element]) -> None:
    _, tree = page
    stats = _stats(demo_run)
    table = tree.by_id("stages-table")
    assert header(table) == ["node", "docs in", "kept", "rejected", "errored", "bytes in", "bytes out", "seconds"]
    rows = {r[0].text: [value(c) for c in r[1:]] for r in table_rows(table)}
    assert list(rows) == [s["stage"] for s in stats["stages"]]
    for s in stats["stages"]:
        assert rows[s["stage"]] == [s["docs_in"], s["docs_out"], s["rejected_total"], s["errored"], s["bytes_in"],
                                    s["bytes_out"], s["seconds"]]
    sinks = {r[0].text: [r[1].text, r[2].text, *(value(c) for c in r[3:6])] for r in table_rows(tree.by_id("sinks-table"))}
    assert sinks == {f"{n}/": [s["from"], s["format"], s["docs"], s["bytes"], s["shards"]]
                     for n, s in stats["sinks"].items()}
    graph = tree.by_id("pipeline").iter("svg")[0]
    titles = [g.iter("title")[0].text for g in graph.by_class("box")]
    assert titles[0] == "input" and "quality · classify" in titles and {"curated/", "mixture/"} <= set(titles)


def test_removed_per_reason_matches_the_stats_and_the_rejected_rows(demo_run: Path, page: tuple[str, Element]) -> None:
    _, tree = page
    stats = _stats(demo_run)
    rows = table_rows(tree.by_id("reasons-table"))
    got = {(r[0].text, r[1].text): (value(r[2]), value(r[4]), value(r[6])) for r in rows}
    assert {k: v[0] for k, v in got.items()} == {(s["stage"], reason): n for s in stats["stages"]
                                                 for reason, n in s["rejected"].items()}
    # bytes (UTF-8) and tokens read independently from the rejected shards
    for node in {k[0] for k in got}:
        truth = _sql(f"select reject_reason, count(*), sum(strlen(text)), sum(n_tokens) "
                     f"from '{_rejected(demo_run, node)}' group by 1")
        for reason, docs, size, tokens in truth:
            assert got[(node, reason)] == (docs, size, tokens)
        stage = next(s for s in stats["stages"] if s["stage"] == node)
        assert sum(v[1] for k, v in got.items() if k[0] == node) == stage["bytes_in"] - stage["bytes_out"]
    sizes = [v[1] for v in got.values()]
    assert [value(r[4]) for r in rows] == sorted(sizes, reverse=True)  # largest first
    cards = {c.by_class("label")[0].text: c.by_class("value")[0].text for c in tree.by_class("card")}
    assert cards["Removed"] == f"{sum(s['rejected_total'] for s in stats['stages']):,}"
    assert cards["Tokens removed"] == f"{sum(int(v[2]) for v in got.values()):,}"


def test_signal_histograms_count_every_document_once_with_the_runs_cutoffs(demo_run: Path,
                                                                            page: tuple[str, Element]) -> None:
    _, tree = page
    stats = _stats(demo_run)
    kept = _sql(f"select count(distinct id) from read_parquet(['{demo_run}/curated/*.parquet', "
                f"'{demo_run}/mixture/*.parquet'])")[0][0]
    assert kept == stats["sinks"]["curated"]["docs"] < stats["sinks"]["mixture"]["docs"]  # the mixture repeats docs
    rejected = sum(s["rejected_total"] for s in stats["stages"])
    figure = _figure(tree, "gopher_quality_word_count")
    bins = _bins(figure)
    filtered = next(s for s in stats["stages"] if s["stage"] == "filter")["rejected"]
    assert sum(b["kept"] for b in bins) == kept
    assert sum(b["rule"] for b in bins) == filtered["gopher_quality:word_count"]
    assert sum(b["kept"] + b["rule"] + b["other"] for b in bins) == kept + rejected == stats["docs_in"]
    labels = [t.text for t in figure.by_class("cutoff-label")]
    assert labels == ["min 50"]  # from the manifest's resolved parameters; max 100,000 lies far off the chart
    assert "max 100,000 (off the chart)" in figure.by_class("note")[0].text
    # the classifier's score exists only for documents that passed the filter; its buckets' cuts are drawn
    quality = _figure(tree, "quality_score")
    buckets = _meta(demo_run, "buckets.json")
    assert sum(b["kept"] + b["rule"] + b["other"] for b in _bins(quality)) == stats["docs_in"] - filtered_total(stats)
    assert [t.text for t in quality.by_class("cutoff-label")] == [
        f"{b['name']} ≥ {cut:.4g}" for b, cut in sorted(zip(buckets["buckets"], buckets["cuts"]), key=lambda p: p[1])]
    columns = [f.attrs["data-column"] for f in tree.iter("figure")]
    assert "dup_count" not in columns and "epoch_index" not in columns and "true_edit_rate" not in columns


def filtered_total(stats: dict) -> int:
    return next(s for s in stats["stages"] if s["stage"] == "filter")["rejected_total"]


def test_near_duplicate_clusters_match_the_minhash_summary(demo_run: Path, page: tuple[str, Element]) -> None:
    _, tree = page
    summary = next(s for s in _stats(demo_run)["stages"] if s["stage"] == "minhash_dedup")["summary"]
    chart = [d for d in tree.by_class("clusters") if d.attrs.get("data-node") == "minhash_dedup"][0]
    sizes = {}
    for rect in chart.iter("rect"):
        m = re.match(r"clusters: ([\d,]+) at documents per cluster (\d+)$", rect.iter("title")[0].text)
        sizes[int(m.group(2))] = int(m.group(1).replace(",", ""))
    assert sum(sizes.values()) == summary["clusters"]
    assert max(sizes) == summary["largest_cluster"]
    assert sum((size - 1) * n for size, n in sizes.items()) == summary["near_duplicates"]


def test_the_plan_and_buckets_are_the_files_the_run_wrote(demo_run: Path, page: tuple[str, Element]) -> None:
    _, tree = page
    plan = _meta(demo_run, "plan.json")
    rows = table_rows(tree.by_id("plan-table"))
    assert [(r[0].text, value(r[1]), value(r[3]), value(r[4])) for r in rows] == [
        (b["name"], b["unique_tokens"], b["epochs"], b["tokens"]) for b in plan["buckets"]]
    buckets = _meta(demo_run, "buckets.json")
    rows = table_rows(tree.by_id("buckets-table"))
    assert [(r[0].text, value(r[1]), value(r[2])) for r in rows] == [
        (b["name"], b["docs"], b["unique_tokens"]) for b in buckets["buckets"]]
    assert [w.text for w in tree.by_id("plan").by_class("warn")] == plan["warnings"]


def test_examples_are_the_first_rejected_documents_truncated(demo_run: Path, page: tuple[str, Element]) -> None:
    _, tree = page
    section = tree.by_id("examples")
    details = section.iter("details")
    assert details and "open" in details[0].attrs
    for d in details:
        summary = d.iter("summary")[0]
        reason, node = summary.parts[0].strip(), re.search(r"\((\w+)\)", summary.text).group(1)
        truth = _sql(f"select id, text from read_parquet('{_rejected(demo_run, node)}', filename=true, "
                     f"file_row_number=true) where reject_reason = '{reason}' order by filename, file_row_number "
                     "limit 3")
        shown = [(e.by_class("meta")[0].text.split(" · ")[0], e.iter("pre")[0].text) for e in d.by_class("example")]
        assert [s[0] for s in shown] == [t[0] for t in truth]
        for (_, text), (_, full) in zip(shown, truth):
            assert full.startswith(text.removesuffix("…")) and len(text) <= 601


def test_api_writes_elsewhere_and_a_sample_is_chosen_by_id_hash(demo_run: Path, tmp_path: Path) -> None:
    import curate

    target = tmp_path / "sub" / "page.html"
    assert curate.report(demo_run, target, max_rows=300) == str(target)
    tree = parse(target.read_text(encoding="utf-8"))
    stats = _stats(demo_run)
    expected = sum(s["rejected_total"] for s in stats["stages"]) + sum(s["docs"] for s in stats["sinks"].values())
    limit = int(300 / expected * (2**64 - 1))
    ids = {r[0] for r in _sql(f"select distinct id from read_parquet(['{demo_run}/curated/*.parquet', "
                              f"'{demo_run}/mixture/*.parquet', '{_rejected(demo_run)}'], union_by_name=true)")}
    sampled = sum(1 for i in ids if xxhash.xxh64_intdigest(i.encode(), stats["seed"]) <= limit)
    bins = _bins(_figure(tree, "gopher_quality_word_count"))
    assert sum(b["kept"] + b["rule"] + b["other"] for b in bins) == sampled < len(ids)
    assert "a sample of" in tree.by_id("signals").by_class("lead")[0].text


def test_cli_output_and_json(demo_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.html"
    r = curate("report", str(demo_run), "--output", str(target), "--examples", "1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"report": str(target)}
    tree = parse(target.read_text(encoding="utf-8"))
    assert all(len(d.by_class("example")) == 1 for d in tree.by_id("examples").iter("details"))


def test_an_unfinished_run_is_refused_in_one_line(demo_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    Path(WorkStore.open(copy).success_file).unlink()
    report = Path(WorkStore.open(copy).report_file)
    report.unlink(missing_ok=True)
    r = curate("report", str(copy))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "has not finished" in r.stderr and str(copy) in r.stderr
    r = curate("report", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such directory" in r.stderr
    assert not report.exists()


def test_reasons_without_rejected_rows_and_hostile_text(tmp_path: Path) -> None:
    from tests.conftest import write_parquet

    texts = ["<script>alert(1)</script>", "ok " * 40, "</pre><b>x</b>", "fine text " * 30]
    write_parquet(tmp_path / "in" / "a.parquet", {"id": [f"d{i}" for i in range(4)], "text": texts})
    pipe = Pipeline("tiny").add("length_filter", min_chars=40)
    pipe.run(tmp_path / "in", tmp_path / "kept", workers=1, keep_rejected=True)
    pipe.run(tmp_path / "in", tmp_path / "dropped", workers=1)
    import curate

    html = Path(curate.report(tmp_path / "kept")).read_text(encoding="utf-8")
    tree = parse(html)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    shown = [e.iter("pre")[0].text for e in tree.by_id("examples").by_class("example")]
    assert sorted(shown) == sorted([texts[0], texts[2]])  # the parser reads back the exact text
    [row] = table_rows(tree.by_id("reasons-table"))
    assert (value(row[2]), value(row[4])) == (2, len(texts[0].encode()) + len(texts[2].encode()))
    assert value(row[6]) is None  # no n_tokens column: tokens unknown

    tree = parse(Path(curate.report(tmp_path / "dropped")).read_text(encoding="utf-8"))
    [row] = table_rows(tree.by_id("reasons-table"))
    assert (row[0].text, value(row[2]), value(row[4])) == ("length_filter", 2, None)
    assert "--keep-rejected" in tree.by_id("removed").text and not tree.by_id("examples").iter("details")
    assert not tree.iter("figure")  # length_filter writes no signal column


def test_without_a_manifest_every_numeric_column_is_drawn_and_no_cutoff(tmp_path: Path) -> None:
    """--clean-work removes the manifest, the only record of the rules' resolved parameters: the
    page still draws the signals (every numeric column) and says the cut-offs are unknown."""
    import curate

    pipe = Pipeline("clean").add("heuristics", sets=["gopher_quality"]).add("filter")
    pipe.run(SAMPLE, tmp_path / "out", workers=1, keep_rejected=True, clean_work=True)
    assert not Path(WorkStore.open(tmp_path / "out").manifest).exists()
    tree = parse(Path(curate.report(tmp_path / "out")).read_text(encoding="utf-8"))
    columns = {f.attrs["data-column"] for f in tree.iter("figure")}
    assert "gopher_quality_word_count" in columns
    assert not tree.by_class("cutoff-label")
    assert "--clean-work" in tree.by_id("signals").by_class("lead")[0].text
    reasons = {r[1].text: value(r[2]) for r in table_rows(tree.by_id("reasons-table"))}
    assert reasons == next(s for s in _stats(tmp_path / "out")["stages"] if s["stage"] == "filter")["rejected"]
