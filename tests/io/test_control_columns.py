"""Input columns named like curate's own (issue 35, finding 6). A run's ``_curate/rejected/<node>/`` shards
read by a later run are re-filtered, their old reasons kept as data (``orig_reject_reason``), and
the later run's own rejected shards stay readable; curate's internal columns cannot be
mistaken for input columns (``__row``, ``_route`` are data; ``_curate_*`` inputs are refused); a
column a stage reads back with the wrong type is refused naming it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from curate.io.conform import ROW, ColumnMap
from curate.store.layout import POSITION
from tests.conftest import read_output, rejected_dir, write_parquet
from tests.hostile import run

N = 40
FILTER = "name: f\nstages:\n  - stage: length_filter\n    params: {min_words: %d}\n  - stage: exact_dedup\n"


def _corpus(extra: dict[str, pa.Array] | None = None) -> dict:
    """N documents of 1..5 words (every fifth a copy of an earlier one) and `extra` columns."""
    text = [" ".join(["word"] * (1 + i % 5) + [f"u{i % 35}"]) for i in range(N)]
    return {"id": [f"d{i:03d}" for i in range(N)], "text": text, **(extra or {})}


def _run(tmp: Path, src: Path, name: str, min_words: int, **kwargs) -> tuple[dict, Path]:
    pipe = tmp / f"{name}.yaml"
    pipe.write_text(FILTER % min_words)
    out = tmp / name
    result = Pipeline.from_yaml(pipe).run(src, out, workers=1, keep_rejected=True, **kwargs)
    return result.stats, out


def _rows(path: Path) -> list[dict]:
    """Every row under `path`, read with pyarrow's own dataset reader, sorted by id."""
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: r["id"])


def test_rejected_shards_are_a_later_runs_input_their_reasons_kept_as_data(tmp_path: Path) -> None:
    """The reported fault: all rows rejected at `read` with their old reasons, exit 0, and a
    `_rejected` shard with two `reject_stage` columns that pq.read_table refuses."""
    write_parquet(tmp_path / "in" / "a.parquet", _corpus())
    _, first = _run(tmp_path, tmp_path / "in", "first", min_words=5)
    rejected = _rows(rejected_dir(first, "length_filter"))
    assert len(rejected) == 24 and {r["reject_stage"] for r in rejected} == {"length_filter"}

    stats, second = _run(tmp_path, rejected_dir(first, "length_filter"), "second", min_words=3)
    read = next(s for s in stats["stages"] if s["stage"] == "read")
    assert (read["docs_in"], read["docs_out"], read["rejected_total"]) == (24, 24, 0)
    kept = sorted(read_output(second).to_pylist(), key=lambda r: r["id"])
    again = _rows(rejected_dir(second, "length_filter"))  # one reject_stage column: readable
    by_id = {r["id"]: r for r in rejected}
    assert len(kept) + len(again) + len(_rows(rejected_dir(second, "exact_dedup"))) == 24
    for r in kept + again:  # the old reasons, as data
        assert (r["orig_reject_reason"], r["orig_reject_stage"]) == (by_id[r["id"]]["reject_reason"], "length_filter")
        assert r["text"] == by_id[r["id"]]["text"]
    assert {r["reject_stage"] for r in again} == {"length_filter"}
    assert all(len(r["text"].split()) < 3 for r in again) and all(len(r["text"].split()) >= 3 for r in kept)

    # a third generation: the second run's rejected rows hold both; each gets one more orig_
    stats, third = _run(tmp_path, rejected_dir(second, "length_filter"), "third", min_words=1)
    rows = sorted(read_output(third).to_pylist(), key=lambda r: r["id"])
    assert len(rows) + len(_rows(rejected_dir(third, "exact_dedup"))) == len(again)
    first_reason = {r["id"]: r["reject_reason"] for r in rejected}
    assert all(r["orig_orig_reject_reason"] == first_reason[r["id"]] for r in rows)
    assert all(r["orig_reject_reason"] is not None and r["orig_reject_stage"] == "length_filter" for r in rows)


@pytest.mark.parametrize("column", ["reject_reason", "reject_stage", "upstream_reject_reason", "_route", "__row"])
def test_input_columns_named_like_curates_are_data(tmp_path: Path, column: str) -> None:
    """Each kept as data under its name (routing columns with orig_), the run's output otherwise
    exactly that of the same input without it."""
    values = pa.array([f"v{i}" for i in range(N)])
    write_parquet(tmp_path / "in-plain" / "a.parquet", _corpus())
    write_parquet(tmp_path / "in-with" / "a.parquet", _corpus({column: values}))
    plain_stats, plain = _run(tmp_path, tmp_path / "in-plain", "plain", min_words=3)
    stats, out = _run(tmp_path, tmp_path / "in-with", "with", min_words=3)
    name = "orig_" + column if column in schema.ROUTING_COLUMNS else column
    got = read_output(out)
    assert got.drop_columns([name]).equals(read_output(plain))
    assert got.column(name).to_pylist() == [f"v{int(i[1:])}" for i in got.column("id").to_pylist()]
    assert [s["rejected"] for s in stats["stages"]] == [s["rejected"] for s in plain_stats["stages"]]
    assert _rows(rejected_dir(out)) == [dict(r, **{name: f"v{int(r['id'][1:])}"})
                                        for r in _rows(rejected_dir(plain))]


def test_route_and_rejected_port_ignore_input_columns_of_their_names(tmp_path: Path) -> None:
    """A route splits by its own column and a `.rejected` reader gets the upstream reason, even
    when the input has `_route` and `upstream_reject_reason` columns."""
    pipe = tmp_path / "g.yaml"
    pipe.write_text("name: g\nstages:\n  - stage: route\n    name: r\n    params: {routes: {short: \"length(text) < 12\"},"
                    " default: long}\n  - stage: length_filter\n    name: lf\n    input: r.long\n"
                    "    params: {min_words: 4}\n  - stage: passthrough\n    name: back\n    input: lf.rejected\n"
                    "outputs: {short: r.short, long: lf, again: back}\n")
    extra = {"_route": pa.array(["long"] * N), "upstream_reject_reason": pa.array(["stale"] * N)}
    write_parquet(tmp_path / "in" / "a.parquet", _corpus(extra))
    Pipeline.from_yaml(pipe).run(tmp_path / "in", tmp_path / "out", workers=1)
    short = pq.read_table(tmp_path / "out" / "short").to_pylist()
    again = pq.read_table(tmp_path / "out" / "again").to_pylist()
    assert short and all(len(r["text"]) < 12 and r["_route"] == "long" for r in short)
    assert again and all(len(r["text"].split()) < 4 for r in again)
    assert {(r["upstream_reject_reason"], r["orig_upstream_reject_reason"]) for r in again} == {
        ("length_filter:too_few_words", "stale")}


@pytest.mark.parametrize("column", [ROW, POSITION, schema.ROUTE, schema.READ_REASON, "_curate_anything"])
def test_columns_with_curates_internal_prefix_are_refused(tmp_path: Path, column: str) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", _corpus({column: pa.array(range(N))}))
    failed = run(tmp_path, tmp_path / "in", "fail")
    assert failed.code == 2
    assert failed.error_line() == (f"error: a.parquet: column '{column}' has the prefix _curate_ that curate keeps "
                                   "for its own columns: rename it")


@pytest.mark.parametrize(("column", "values", "kind"), [
    ("dup_count", pa.array(["x"] * N), "an integer"),
    ("quality_score", pa.array(["high"] * N), "a number"),
    ("dup_cluster_id", pa.array([1.5] * N), "a string or an integer"),
])
def test_a_stage_column_of_the_wrong_type_is_refused_naming_it(tmp_path: Path, column: str, values: pa.Array,
                                                               kind: str) -> None:
    """A string dup_count used to end in exit 1 (ArrowTypeError) in exact_dedup."""
    write_parquet(tmp_path / "in" / "a.parquet", _corpus({column: values}))
    for policy in ("fail", "skip"):
        failed = run(tmp_path, tmp_path / "in", policy)
        assert failed.code == 2
        assert failed.error_line() == (f"error: a.parquet: column '{column}' is {values.type}, but curate's stages "
                                       f"make and read '{column}' as {kind}: rename the column")


def test_an_integer_dup_count_is_still_read_back(tmp_path: Path) -> None:
    """An earlier dedup's dup_count (int) is what a later dedup adds to: allowed as before."""
    write_parquet(tmp_path / "in" / "a.parquet", _corpus({"dup_count": pa.array([2] * N, pa.int64())}))
    _, out = _run(tmp_path, tmp_path / "in", "out", min_words=1)
    counts = read_output(out).column("dup_count").to_pylist()
    assert set(counts) >= {2, 4}  # kept copies add the counts of the copies they stand for


def test_column_map_renames_routing_columns_one_to_one() -> None:
    cm = ColumnMap()
    names = ["id", "text", "reject_reason", "orig_reject_reason", "orig_orig_reject_stage", "orig_source", "__row"]
    renamed = cm.rename(names)
    assert renamed == ["id", "text", "orig_reject_reason", "orig_orig_reject_reason", "orig_orig_orig_reject_stage",
                       "orig_source", "__row"]
    assert [cm.input_name(n) for n in renamed] == names
