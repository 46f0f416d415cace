"""Shard I/O: every input format, task split by row group, schema unification, atomic writes."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.api import Pipeline
from curate.errors import InputError
from curate.io import read as reader
from curate.store.layout import WorkStore
from curate.store.shards import ShardWriter
from tests.conftest import data_dir, read_output, shard_ids, write_parquet

ROWS = [{"id": f"d{i}", "text": f"document number {i} with some words", "score": i * 0.5} for i in range(50)]


def _jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_each_format_is_read_and_carried_through(tmp_path: Path, suffix: str) -> None:
    src = tmp_path / "in"
    src.mkdir()
    path = src / f"shard{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    elif suffix == ".jsonl":
        path.write_bytes(_jsonl_bytes(ROWS))
    elif suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(_jsonl_bytes(ROWS)))
    else:
        path.write_bytes(zstandard.ZstdCompressor().compress(_jsonl_bytes(ROWS)))
    out = tmp_path / "out"
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=1)
    table = read_output(out)
    assert table.column("id").to_pylist() == [r["id"] for r in ROWS]
    assert table.column("text").to_pylist() == [r["text"] for r in ROWS]
    assert table.column("score").to_pylist() == [r["score"] for r in ROWS]  # extra column untouched
    assert (out / "_SUCCESS").exists()


def test_multi_row_group_parquet_is_split_into_tasks(tmp_path: Path) -> None:
    src = tmp_path / "in"
    rows = {"id": [f"r{i:04d}" for i in range(1000)], "text": [f"text {i} " * 20 for i in range(1000)]}
    write_parquet(src / "big.parquet", rows, row_group_size=100)  # 10 row groups
    write_parquet(src / "small.parquet", {"id": ["s1"], "text": ["a lone doc"]})
    tasks = reader.plan_tasks(reader.discover(src), target_task_bytes=1)  # one row group per task
    assert [t.row_groups for t in tasks[:10]] == [(i, i + 1) for i in range(10)]
    assert tasks[10].rel == "small.parquet" and len(tasks) == 11
    assert [t.first_row for t in tasks[:3]] == [0, 100, 200]
    out = tmp_path / "out"
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=2, target_task_bytes=1)
    ids = shard_ids(out)
    assert len(ids) == 11  # shard i comes from task i
    assert ids[0] == rows["id"][:100] and ids[9] == rows["id"][900:]
    assert ids[10] == ["s1"]


def test_empty_task_writes_zero_row_shard(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a"], "text": ["hello there"]})
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), src / "b.parquet")
    out = tmp_path / "out"
    Pipeline.from_stages([("normalize", {}), ("token_count", {})]).run(src, out, workers=1)
    empty = pq.read_table(data_dir(out) / "part-00001.parquet")
    assert empty.num_rows == 0
    assert "n_tokens" in empty.column_names  # the stages ran on zero rows: same columns


def test_jsonl_schemas_are_unified(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"id": "a", "text": "x y", "n": 1}) + "\n")
    (src / "b.jsonl").write_text(json.dumps({"id": "b", "text": "x z", "n": 2.5, "lang": "en"}) + "\n")
    out = tmp_path / "out"
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=1)
    t = read_output(out)
    assert t.schema.field("n").type == pa.float64()
    assert t.column("n").to_pylist() == [1.0, 2.5]
    assert t.column("lang").to_pylist() == [None, "en"]


def test_jsonl_schema_conflict_names_both_files(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"id": "a", "text": "x", "n": 1}) + "\n")
    (src / "b.jsonl").write_text(json.dumps({"id": "b", "text": "y", "n": "one"}) + "\n")
    with pytest.raises(InputError) as err:
        Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out", workers=1)
    assert "a.jsonl" in str(err.value) and "b.jsonl" in str(err.value) and "'n'" in str(err.value)


def test_id_and_text_columns_can_be_mapped(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"doc_id": ["x1", "x2"], "content": ["first text", "second text"]})
    out = tmp_path / "out"
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=1, id_column="doc_id", text_column="content")
    t = read_output(out)
    assert t.column("id").to_pylist() == ["x1", "x2"]
    assert t.column("text").to_pylist() == ["first text", "second text"]


def test_missing_text_column_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["x1"], "body": ["text"]})
    with pytest.raises(InputError, match=r"a.parquet.*missing required column 'text'"):
        Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out", workers=1)


_WRITER = """
import sys, pyarrow as pa
from curate.store.layout import WorkStore
from curate.store.shards import ShardWriter
w = ShardWriter(WorkStore.open("/").files, sys.argv[1])
batch = pa.table({"id": [str(i) for i in range(20000)], "text": ["x" * 200] * 20000})
print("writing", flush=True)
while True:
    w.write(batch)
"""


@pytest.mark.faults
def test_killed_writer_leaves_no_visible_partial_shard(tmp_path: Path) -> None:
    target = tmp_path / "out" / "part-00000.parquet"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if not p.name.startswith(".")] == []


def test_shard_writer_close_is_atomic_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "part-00000.parquet"
    w = ShardWriter(WorkStore.open(tmp_path).files, str(target))
    w.write(pa.table({"id": ["a"], "text": ["b"]}))
    assert not target.exists()  # invisible until closed
    w.close()
    assert pq.read_table(target).num_rows == 1
