"""Real corpora in: dolma's .json.gz, JSON Lines under bz2/xz, CSV/TSV with quoted newlines and
other delimiters, Hugging Face datasets saved to disk; each written in the test the way the tool
that makes them writes them, read through a run, checked against what went in."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
from pathlib import Path

import pyarrow as pa
import pytest

from curate.api import Pipeline
from curate.errors import InputError
from tests.conftest import ROOT, read_output
from tests.in_process import curate

# dolma's document fields (dolma docs/data-format.md): id, text, source, added, created, metadata.
DOLMA = [{"id": f"cc-{i}", "text": f"Paragraph one of page {i}.\n\nParagraph two, with \"quotes\" and, commas.",
          "source": "common-crawl", "added": "2023-05-01T00:00:00Z", "created": f"2019-01-1{i % 10}T00:00:00Z",
          "metadata": {"url": f"https://example.com/{i}", "language": "en"}} for i in range(40)]


def _run(src: Path, out: Path, **kwargs: object) -> pa.Table:
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=2, **kwargs)
    return read_output(out).sort_by("id")


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize("name,compress", [
    ("shard.json.gz", gzip.compress), ("shard.json", lambda b: b), ("shard.jsonl.bz2", bz2.compress),
    ("shard.jsonl.xz", lzma.compress), ("shard.json.xz", lzma.compress)])
def test_dolma_json_lines_under_every_name_and_codec(tmp_path: Path, name: str, compress) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(compress(_jsonl(DOLMA)))
    table = _run(tmp_path / "in", tmp_path / "out")
    expected = sorted(DOLMA, key=lambda r: r["id"])
    assert table.column("id").to_pylist() == [r["id"] for r in expected]
    assert table.column("text").to_pylist() == [r["text"] for r in expected]
    assert table.column("metadata").to_pylist() == [r["metadata"] for r in expected]
    assert table.column("source").to_pylist() == ["common-crawl"] * len(DOLMA)


def test_a_json_array_file_is_exit_2_naming_it_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.jsonl").write_bytes(_jsonl(DOLMA[:3]))
    (tmp_path / "in" / "dump.json").write_text("\ufeff  " + json.dumps(DOLMA[3:6], indent=2), encoding="utf-8")
    with pytest.raises(InputError) as info:
        _run(tmp_path / "in", tmp_path / "out")
    assert info.value.file == "dump.json" and "JSON array" in str(info.value) and "jq -c" in str(info.value)
    r = curate("run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "o2"))
    assert r.returncode == 2 and "dump.json" in r.stderr and "JSON array" in r.stderr


ROWS = [{"id": f"r{i}", "text": f"Line one of {i}\nline two, with a comma; and a semicolon\n\"quoted\" end",
         "score": str(i / 4)} for i in range(30)]


def _write_delimited(path: Path, delimiter: str, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize("name,delimiter,flag", [("a.csv", ",", None), ("a.tsv", "\t", None),
                                                 ("a.csv", ";", ";"), ("a.csv", "|", "|")])
def test_csv_and_tsv_with_quoted_newlines(tmp_path: Path, name: str, delimiter: str, flag: str | None) -> None:
    (tmp_path / "in").mkdir()
    _write_delimited(tmp_path / "in" / name, delimiter, ROWS)
    assert "\n" in (tmp_path / "in" / name).read_text().split(delimiter)[3]  # the newlines really are in quotes
    table = _run(tmp_path / "in", tmp_path / "out", csv_delimiter=flag)
    expected = sorted(ROWS, key=lambda r: r["id"])
    assert table.to_pylist() == expected  # every column a string, nothing split or merged


def test_csv_delimiter_from_the_cli_and_a_compressed_tsv(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _write_delimited(tmp_path / "semi.csv", ";", ROWS[:10])
    (tmp_path / "in" / "semi.csv").write_bytes((tmp_path / "semi.csv").read_bytes())
    (tmp_path / "p.yaml").write_text("name: convert\nstages:\n  - stage: passthrough\n")
    run = curate("run", str(tmp_path / "p.yaml"), "--input", str(tmp_path / "in"),
                          "--output", str(tmp_path / "out"), "--csv-delimiter", ";", "--workers", "1", "--quiet")
    assert run.returncode == 0, run.stderr
    assert read_output(tmp_path / "out").sort_by("id").to_pylist() == sorted(ROWS[:10], key=lambda r: r["id"])
    (tmp_path / "gz").mkdir()
    _write_delimited(tmp_path / "plain.tsv", "\t", ROWS)
    (tmp_path / "gz" / "a.tsv.gz").write_bytes(gzip.compress((tmp_path / "plain.tsv").read_bytes()))
    assert _run(tmp_path / "gz", tmp_path / "out2").num_rows == len(ROWS)


def test_csv_with_a_malformed_row_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text("id,text\na,hello\nb,too,many,fields\n")
    with pytest.raises(InputError) as info:
        _run(tmp_path / "in", tmp_path / "out")
    assert info.value.file == "bad.csv" and "csv" in str(info.value)


def test_hugging_face_dataset_saved_to_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = {"id": [f"hf{i}" for i in range(300)], "text": [f"text {i}\nsecond line" for i in range(300)],
            "n": list(range(300))}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "ds"), num_shards=3)
    assert len(list((tmp_path / "ds").glob("*.arrow"))) == 3 and (tmp_path / "ds" / "state.json").is_file()
    table = _run(tmp_path / "ds", tmp_path / "out")
    assert table.column("id").to_pylist() == sorted(rows["id"])
    by_id = dict(zip(rows["id"], rows["n"]))
    assert table.column("n").to_pylist() == [by_id[i] for i in table.column("id").to_pylist()]
    # A DatasetDict: one directory per split under dataset_dict.json.
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                               "test": datasets.Dataset.from_dict({k: v[:5] for k, v in rows.items()})})
    dd["test"] = dd["test"].map(lambda r: {"id": "t-" + r["id"]})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert _run(tmp_path / "dd", tmp_path / "out2").num_rows == 305
