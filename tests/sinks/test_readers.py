"""Every sink is a folder any reader takes whole (issue 31, items 1 and 2): Hugging Face
``datasets``, DuckDB and Polars read exactly the sink's rows, an empty task included (Parquet: a
zero-row shard without row groups; JSON Lines and tokenized formats: no file, listed in the
sink's ``empty_tasks``); no sink holds a 0-byte file. Spark reads the same folders in
tests/compat/spark_read.py (``make spark-check``)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.store import layout
from tests.conftest import read_output, read_stats, write_parquet

TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "sinks" / "tokenizer.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two runs over three tasks, the middle one without a document long enough to keep: one
    without outputs: (the sink data/), one with a Parquet, a JSON Lines and a Megatron sink."""
    tmp = tmp_path_factory.mktemp("readers")
    src = tmp / "in"
    for f, words in enumerate((12, 1, 12)):
        write_parquet(src / f"s{f}.parquet", {"id": [f"d{f}-{i}" for i in range(4)],
                                              "text": [" ".join(["word"] * (words + i)) for i in range(4)],
                                              "score": [0.5 * i for i in range(4)]})
    plain = tmp / "plain"
    Pipeline("p").add("length_filter", min_words=5).run(src, plain, workers=1, keep_rejected=True)
    named = tmp / "named"
    (Pipeline("p").add("length_filter", min_words=5)
     .output("kept", "length_filter")
     .output("text", {"from": "length_filter", "format": "jsonl"})
     .output("tokens", {"from": "length_filter", "format": "megatron", "tokenizer": str(TOKENIZER)})
     .run(src, named, workers=1))
    return plain, named


def _parquet_sinks(runs: tuple[Path, Path]) -> list[tuple[Path, int]]:
    plain, named = runs
    return [(plain / layout.DEFAULT_SINK, read_stats(plain)["sinks"]["data"]["docs"]),
            (named / "kept", read_stats(named)["sinks"]["kept"]["docs"])]


def test_parquet_sinks_read_whole_by_datasets_duckdb_and_polars(runs: tuple[Path, Path], tmp_path: Path) -> None:
    import datasets

    for sink, docs in _parquet_sinks(runs):
        assert docs == 8
        ids = read_output(sink.parent, sink.name).column("id").to_pylist()
        assert pq.ParquetFile(sink / "part-00001.parquet").metadata.num_rows == 0  # the empty task's shard
        loaded = datasets.load_dataset("parquet", data_dir=str(sink), split="train", cache_dir=str(tmp_path / sink.name))
        assert loaded["id"] == ids
        assert duckdb.sql(f"SELECT count(*) FROM '{sink}/**/*.parquet'").fetchall()[0][0] == docs
        assert pl.scan_parquet(sink).collect()["id"].to_list() == ids
        assert pl.scan_parquet(f"{sink}/*.parquet").select(pl.len()).collect().item() == docs


def test_output_without_outputs_is_safe_for_readers_pointed_at_data(runs: tuple[Path, Path]) -> None:
    """The rejected rows and the work folder are Parquet too, but under _curate/, outside the sink."""
    plain, _ = runs
    everything = duckdb.sql(f"SELECT count(*) FROM '{plain}/**/*.parquet'").fetchall()[0][0]
    assert everything > 8  # what reading OUTPUT itself would have counted
    assert duckdb.sql(f"SELECT count(*) FROM '{plain}/data/**/*.parquet'").fetchall()[0][0] == 8


def test_jsonl_and_token_sinks_leave_out_the_empty_task_and_say_so(runs: tuple[Path, Path], tmp_path: Path) -> None:
    import datasets

    _, named = runs
    sinks = read_stats(named)["sinks"]
    assert sinks["kept"]["empty_tasks"] == [] and sinks["kept"]["shards"] == 3
    for name, files in (("text", ["part-00000.jsonl", "part-00002.jsonl"]),
                        ("tokens", ["part-00000.bin", "part-00000.idx", "part-00002.bin", "part-00002.idx"])):
        assert sinks[name]["empty_tasks"] == [1] and sinks[name]["shards"] == 2, name
        assert sorted(p.name for p in (named / name).iterdir()) == files
    frame = pl.scan_ndjson(f"{named}/text/*.jsonl").collect()
    assert frame["id"].to_list() == read_output(named, "kept").column("id").to_pylist()
    loaded = datasets.load_dataset("json", data_dir=str(named / "text"), split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == sinks["text"]["docs"] == 8
    assert sinks["tokens"]["docs"] == 8 and sinks["tokens"]["tokens"] > 0


def test_no_sink_holds_an_empty_file(runs: tuple[Path, Path]) -> None:
    for out in runs:
        for sink in read_stats(out)["sinks"]:
            assert all(p.stat().st_size > 0 for p in (out / sink).iterdir()), sink
