"""Inputs laid out as datasets: a Hugging Face DatasetDict saved to disk keeps its splits (a
`split` column, or one split with --split), and a dolma dataset root is read as its documents with
their attribute files merged as columns (--attributes chooses the sets)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError, InputError
from tests.conftest import read_output
from tests.in_process import curate


def _run(src: Path, out: Path, **kwargs: object) -> pa.Table:
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=1, progress=False, **kwargs)
    return read_output(out).sort_by("id")


@pytest.fixture()
def dataset_dict(tmp_path: Path) -> Path:
    import datasets

    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"id": [f"tr{i}" for i in range(20)], "text": [f"train {i}" for i in range(20)]}),
        "test": datasets.Dataset.from_dict({"id": [f"te{i}" for i in range(5)], "text": [f"test {i}" for i in range(5)]}),
    })
    dd.save_to_disk(str(tmp_path / "dd"))
    return tmp_path / "dd"


def test_dataset_dict_splits_are_kept_in_a_split_column(dataset_dict: Path, tmp_path: Path) -> None:
    table = _run(dataset_dict, tmp_path / "out")
    splits = dict(zip(table.column("id").to_pylist(), table.column("split").to_pylist()))
    assert splits == {**{f"tr{i}": "train" for i in range(20)}, **{f"te{i}": "test" for i in range(5)}}


def test_split_option_reads_one_split(dataset_dict: Path, tmp_path: Path) -> None:
    table = _run(dataset_dict, tmp_path / "out", split="test")
    assert table.column("id").to_pylist() == [f"te{i}" for i in range(5)]
    assert set(table.column("split").to_pylist()) == {"test"}
    with pytest.raises(ConfigError, match="--split validation: the DatasetDict of .* has the splits"):
        _run(dataset_dict, tmp_path / "out2", split="validation")


def test_a_files_own_split_column_is_kept(tmp_path: Path) -> None:
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"id": ["a"], "text": ["x"], "split": ["mine"]})}
                         ).save_to_disk(str(tmp_path / "dd"))
    assert _run(tmp_path / "dd", tmp_path / "out").column("split").to_pylist() == ["mine"]


def _dolma(root: Path, n: int = 6, sets: dict[str, str] | None = None, bad_id_at: int | None = None) -> Path:
    """A dolma root: documents/part-0.json.gz and one attribute file per set."""
    docs = [{"id": f"d{i}", "text": f"document {i} " * (i + 1), "source": "web"} for i in range(n)]
    (root / "documents" / "cc").mkdir(parents=True)
    with gzip.open(root / "documents" / "cc" / "part-0.json.gz", "wt") as fh:
        fh.writelines(json.dumps(d) + "\n" for d in docs)
    for name, key in (sets or {"length": "length__chars", "lang": "lang__en"}).items():
        (root / "attributes" / name / "cc").mkdir(parents=True)
        with gzip.open(root / "attributes" / name / "cc" / "part-0.json.gz", "wt") as fh:
            for i, d in enumerate(docs):
                doc_id = "zzz" if i == bad_id_at else d["id"]
                span = [[0, len(d["text"]), float(len(d["text"])) if "chars" in key else 0.5 + i / 100]]
                fh.write(json.dumps({"id": doc_id, "attributes": {f"{name}__{key}": span}}) + "\n")
    return root


def test_dolma_root_is_documents_plus_every_attribute_set(tmp_path: Path) -> None:
    table = _run(_dolma(tmp_path / "dolma"), tmp_path / "out")
    assert table.num_rows == 6  # the attribute files are not documents
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows["d2"]["length__length__chars"] == [[0.0, 33.0, 33.0]]
    assert rows["d3"]["lang__lang__en"] == [[0.0, 44.0, 0.53]]
    assert rows["d0"]["source"] == "web" and rows["d0"]["text"] == "document 0 "


def test_attributes_option_chooses_sets_and_names_a_missing_file(tmp_path: Path) -> None:
    root = _dolma(tmp_path / "dolma")
    table = _run(root, tmp_path / "out", attributes="lang")
    assert "lang__lang__en" in table.column_names and "length__length__chars" not in table.column_names
    with pytest.raises(InputError, match=r"--attributes: no attribute file .*attributes/toxic/cc/part-0.json.gz"):
        _run(root, tmp_path / "out2", attributes="lang,toxic")


def test_an_attribute_line_of_another_document_is_an_error_naming_file_and_row(tmp_path: Path) -> None:
    root = _dolma(tmp_path / "dolma", sets={"length": "length__chars"}, bad_id_at=4)
    with pytest.raises(InputError, match=r"attribute file .*length/cc/part-0.json.gz: id 'zzz' on the line of "
                                         r"document 'd4'") as info:
        _run(root, tmp_path / "out")
    assert info.value.row == 4


def test_cli_split_and_attributes_flags(dataset_dict: Path, tmp_path: Path) -> None:
    yaml = tmp_path / "p.yaml"
    yaml.write_text("stages:\n  - stage: passthrough\n")
    proc = curate("run", str(yaml), "--input", str(dataset_dict), "--output", str(tmp_path / "o"),
                           "--split", "nope")
    assert proc.returncode == 2 and "--split nope" in proc.stderr, proc.stderr
    root = _dolma(tmp_path / "dolma")
    proc = curate("run", str(yaml), "--input", str(root), "--output", str(tmp_path / "o2"),
                           "--attributes", "length")
    assert proc.returncode == 0, proc.stderr
    assert "length__length__chars" in read_output(tmp_path / "o2").column_names
