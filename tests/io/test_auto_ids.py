"""--id-column auto: ids PATH:ROW for corpora without ids, the same for any worker count, task
split and executor, unique across files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from tests.conftest import ROOT, read_output
from tests.in_process import curate


@pytest.fixture()
def c4_like(tmp_path: Path) -> Path:
    """C4's layout: gzipped JSON Lines with text, timestamp and url, no id; plus a Parquet file of
    several row groups (split into several tasks below)."""
    root = tmp_path / "c4"
    (root / "en").mkdir(parents=True)
    for shard in range(2):
        rows = [{"text": f"Document {shard}-{i} of the crawl, with enough words to keep.", "url": f"https://x/{shard}/{i}",
                 "timestamp": "2019-04-25T12:57:54Z"} for i in range(25)]
        (root / "en" / f"c4-train.{shard:05d}-of-00002.json.gz").write_bytes(
            gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    texts = [f"parquet document {i} " + "word " * (i % 50) for i in range(400)]
    pq.write_table(pa.table({"text": texts, "url": [f"https://p/{i}" for i in range(400)]}), root / "extra.parquet",
                   row_group_size=50)
    return root


def _ids(src: Path, out: Path, **kwargs: object) -> list[str]:
    Pipeline.from_stages(["passthrough"]).run(src, out, id_column="auto", **kwargs)
    table = read_output(out)
    return table.column("id").to_pylist()


def test_auto_ids_are_path_and_row_and_independent_of_workers_and_tasks(c4_like: Path, tmp_path: Path) -> None:
    one = _ids(c4_like, tmp_path / "w1", workers=1)
    two = _ids(c4_like, tmp_path / "w2", workers=2, target_task_bytes=2_000)  # the Parquet file in 8 tasks
    assert one == two and len(one) == len(set(one)) == 450
    assert one[:2] == ["en/c4-train.00000-of-00002.json.gz:0", "en/c4-train.00000-of-00002.json.gz:1"]
    assert "extra.parquet:399" in one and "en/c4-train.00001-of-00002.json.gz:24" in one
    table = read_output(tmp_path / "w2")
    by_id = dict(zip(table.column("id").to_pylist(), table.column("url").to_pylist()))
    assert by_id["extra.parquet:123"] == "https://p/123" and by_id["en/c4-train.00001-of-00002.json.gz:7"] == "https://x/1/7"


def test_auto_ids_from_yaml_settings_and_cli(c4_like: Path, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("name: ids\nsettings: {id_column: auto}\nstages:\n  - stage: passthrough\n")
    r = curate("run", str(tmp_path / "p.yaml"), "--input", str(c4_like), "--output", str(tmp_path / "y"),
                        "--workers", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    r = curate("run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(c4_like), "--output",
                        str(tmp_path / "c"), "--id-column", "auto", "--workers", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(read_output(tmp_path / "y").column("id").to_pylist()) == sorted(_ids(c4_like, tmp_path / "a", workers=1))


def test_an_existing_id_column_is_kept_as_orig_id(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["x", "x"], "text": ["same id twice", "no error under auto"]}), tmp_path / "in" / "a.parquet")
    (tmp_path / "in" / "b.jsonl").write_text(json.dumps({"id": "y", "text": "from JSON Lines"}) + "\n")
    table = read_output_after(tmp_path)
    assert table.column("id").to_pylist() == ["a.parquet:0", "a.parquet:1", "b.jsonl:0"]
    assert table.column("orig_id").to_pylist() == ["x", "x", "y"]


def read_output_after(tmp_path: Path) -> pa.Table:
    Pipeline.from_stages(["passthrough"]).run(tmp_path / "in", tmp_path / "out", id_column="auto", workers=1)
    return read_output(tmp_path / "out")


@pytest.mark.ray
def test_auto_ids_on_ray_match_local(c4_like: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    local = _ids(c4_like, tmp_path / "local", workers=2)
    assert _ids(c4_like, tmp_path / "ray", workers=2, executor="ray") == local
