"""--id-column, --text-column and --label-column as dotted paths into struct columns (issue 30,
item 4): dolma keeps a document's attributes under `metadata`."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.classifiers.train import labelled_batches
from curate.errors import InputError
from tests.conftest import read_output
from tests.in_process import curate


def _dolma_rows(prefix: str, n: int = 30) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": f"document {i} of {prefix} about rivers and hills",
             "metadata": {"kind": ("prose", "code")[i % 2], "doc": f"{prefix}-doc-{i}", "body": f"body {prefix} {i}"}}
            for i in range(n)]


@pytest.fixture()
def dolma_like(tmp_path: Path) -> Path:
    """One JSON Lines file and one Parquet file, each row with a `metadata` struct."""
    root = tmp_path / "in"
    root.mkdir()
    with (root / "a.jsonl").open("w") as f:
        for row in _dolma_rows("j"):
            f.write(json.dumps(row) + "\n")
    pq.write_table(pa.Table.from_pylist(_dolma_rows("p")), root / "b.parquet")
    return root


def test_id_column_reads_a_field_of_a_struct_in_jsonl_and_parquet(dolma_like: Path, tmp_path: Path) -> None:
    Pipeline.from_stages(["passthrough"]).run(dolma_like, tmp_path / "out", id_column="metadata.doc", workers=1)
    table = read_output(tmp_path / "out")
    assert sorted(table.column("id").to_pylist()) == sorted(
        [f"j-doc-{i}" for i in range(30)] + [f"p-doc-{i}" for i in range(30)])
    assert sorted(table.column("orig_id").to_pylist()) == sorted([f"j{i}" for i in range(30)] +
                                                                 [f"p{i}" for i in range(30)])
    assert "metadata" in table.column_names  # the struct itself is kept whole


def test_text_column_reads_a_field_and_a_null_struct_is_an_empty_text(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    with (src / "a.jsonl").open("w") as f:
        for i in range(10):
            f.write(json.dumps({"id": f"d{i}", "doc": {"body": f"hello {i} world", "n": i}}) + "\n")
        f.write(json.dumps({"id": "d99", "doc": None}) + "\n")
    result = Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out", text_column="doc.body", workers=1)
    table = read_output(tmp_path / "out")
    assert dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))["d3"] == "hello 3 world"
    assert table.num_rows == 10
    assert result.stats["stages"][0]["rejected"] == {"empty_text": 1}


def test_label_column_metadata_kind_for_train_classifier(dolma_like: Path) -> None:
    labels: list[str] = []
    for _, table in labelled_batches(dolma_like, "metadata.kind"):
        labels += table.column("metadata.kind").to_pylist()
    assert sorted(labels) == sorted(["prose", "code"] * 30)


def test_train_classifier_cli_accepts_a_dotted_label_column(dolma_like: Path, tmp_path: Path) -> None:
    pytest.importorskip("fasttext")
    proc = curate("train-classifier", "--input", str(dolma_like), "--label-column", "metadata.kind",
                           "--output", str(tmp_path / "m.bin"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads((tmp_path / "m.json").read_text())["labels"]) == ["code", "prose"]


def test_a_missing_path_is_one_line_naming_the_column(dolma_like: Path, tmp_path: Path) -> None:
    proc = curate("run", "--input", str(dolma_like), "--output", str(tmp_path / "out"),
                           "--id-column", "metadata.nothere", "--workers", "1", _passthrough_yaml(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "'metadata.nothere'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_column_named_like_a_struct_path_is_refused_as_ambiguous(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"text": ["a b c"], "metadata": [{"doc": "x"}], "metadata.doc": ["y"]}), src / "a.parquet")
    with pytest.raises(InputError, match="both a column and a field"):
        Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out", id_column="metadata.doc", workers=1)


def test_a_plain_column_with_a_dot_in_its_name_still_works(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"text": ["a b c", "d e f"], "meta.id": ["m1", "m2"]}), src / "a.parquet")
    Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out", id_column="meta.id", workers=1)
    assert sorted(read_output(tmp_path / "out").column("id").to_pylist()) == ["m1", "m2"]


def _passthrough_yaml(tmp_path: Path) -> str:
    path = tmp_path / "p.yaml"
    path.write_text("stages:\n  - stage: normalize\n")
    return str(path)
