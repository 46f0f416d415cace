"""Hostile input under both error policies: a clear error naming file and row, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError, InputError
from tests.conftest import data_dir, read_errors, read_output, rejected_dir, write_parquet

GOOD = {"id": ["g1", "g2"], "text": ["a good document", "another good document"]}


def _run(src: Path, out: Path, policy: str, workers: int = 1, **kw):
    return Pipeline.from_stages(["normalize", "exact_dedup"]).run(src, out, workers=workers, on_error=policy,
                                                                  keep_rejected=True, **kw)


def _with_good(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    write_parquet(src / "a_good.parquet", GOOD)
    return src


def _check_skip(result, out: Path, file: str, row: int | None, reason: str, n_errors: int = 1) -> None:
    assert read_output(out).column("id").to_pylist()[:2] == ["g1", "g2"]
    assert len(result.errors) == n_errors
    err = result.errors[0]
    assert err["file"] == file and err["row"] == row and err["reason"] == reason
    lines = read_errors(out)
    assert lines == result.errors
    assert result.stats["errors"] == n_errors
    for s in result.stages:
        assert s["docs_in"] == s["docs_out"] + s["rejected_total"] + s["errored"]


def test_truncated_parquet(tmp_path: Path) -> None:
    src = _with_good(tmp_path)
    full = write_parquet(tmp_path / "tmp.parquet", {"id": ["t1", "t2"], "text": ["x" * 1000, "y" * 1000]})
    (src / "b_trunc.parquet").write_bytes(full.read_bytes()[:-300])
    with pytest.raises(InputError, match=r"b_trunc.parquet: unreadable"):
        _run(src, tmp_path / "o1", "fail")
    result = _run(src, tmp_path / "o2", "skip")
    _check_skip(result, tmp_path / "o2", "b_trunc.parquet", None, "unreadable_file")
    assert pq.read_table(data_dir(tmp_path / "o2") / "part-00001.parquet").num_rows == 0  # the task still has its shard
    assert result.stages[0]["counters"]["files_errored"] == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_not_parquet_with_parquet_name(tmp_path: Path, workers: int) -> None:
    """With two workers the files' schemas are read in the worker processes (issue 33): the
    error names the file, and the skip reports it, exactly as in one process."""
    src = _with_good(tmp_path)
    (src / "b_fake.parquet").write_text("id,text\n1,hello\n")
    with pytest.raises(InputError, match=r"b_fake.parquet: unreadable"):
        _run(src, tmp_path / "o1", "fail", workers)
    _check_skip(_run(src, tmp_path / "o2", "skip", workers), tmp_path / "o2", "b_fake.parquet", None,
                "unreadable_file")


def test_jsonl_with_invalid_lines(tmp_path: Path) -> None:
    src = _with_good(tmp_path)
    lines = [json.dumps({"id": "j0", "text": "fine line"}), "{not json", json.dumps({"id": "j2", "text": "ok"}),
             json.dumps([1, 2])]
    (src / "b.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"b.jsonl row 1: "):
        _run(src, tmp_path / "o1", "fail")
    result = _run(src, tmp_path / "o2", "skip")
    _check_skip(result, tmp_path / "o2", "b.jsonl", 1, "invalid_json", n_errors=2)
    assert result.errors[1]["row"] == 3
    assert read_output(tmp_path / "o2").column("id").to_pylist() == ["g1", "g2", "j0", "j2"]
    assert result.stages[0]["docs_in"] == 6 and result.stages[0]["errored"] == 2


def test_invalid_utf8_in_parquet(tmp_path: Path) -> None:
    src = _with_good(tmp_path)
    text = pa.array([b"valid text", b"bad \xff\xfe bytes", b"more"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["u0", "u1", "u2"], "text": text}), src / "b_utf.parquet")
    with pytest.raises(InputError, match=r"b_utf.parquet row 1: invalid UTF-8"):
        _run(src, tmp_path / "o1", "fail")
    result = _run(src, tmp_path / "o2", "skip")
    _check_skip(result, tmp_path / "o2", "b_utf.parquet", 1, "invalid_utf8")
    assert read_output(tmp_path / "o2").column("id").to_pylist() == ["g1", "g2", "u0", "u2"]


@pytest.mark.parametrize("bad", [b'{"id": "s1", "text": "lone \\ud800 surrogate"}',
                                 b'{"id": "s1", "text": "raw \xff byte"}'])
def test_invalid_utf8_in_jsonl(tmp_path: Path, bad: bytes) -> None:
    src = _with_good(tmp_path)
    (src / "b.jsonl").write_bytes(b'{"id": "s0", "text": "fine"}\n' + bad + b"\n")
    with pytest.raises(InputError, match=r"b.jsonl row 1"):
        _run(src, tmp_path / "o1", "fail")
    result = _run(src, tmp_path / "o2", "skip")
    _check_skip(result, tmp_path / "o2", "b.jsonl", 1, "invalid_utf8")


def test_missing_id_column(tmp_path: Path) -> None:
    src = _with_good(tmp_path)
    write_parquet(src / "b_noid.parquet", {"doc": ["x"], "text": ["some text"]})
    with pytest.raises(InputError, match=r"b_noid.parquet: missing required column 'id'"):
        _run(src, tmp_path / "o1", "fail")
    _check_skip(_run(src, tmp_path / "o2", "skip"), tmp_path / "o2", "b_noid.parquet", None, "bad_schema")


def test_text_of_wrong_type(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "b_int.parquet", {"id": ["x"], "text": [42]})
    with pytest.raises(InputError, match=r"b_int.parquet: column 'text' must be a string"):
        _run(src, tmp_path / "o1", "fail")
    write_parquet(src / "a_good.parquet", GOOD)
    _check_skip(_run(src, tmp_path / "o2", "skip"), tmp_path / "o2", "b_int.parquet", None, "bad_schema")


def test_duplicate_ids_within_a_shard(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["g1", "g2", "g1"], "text": ["one", "two", "three"]})
    with pytest.raises(InputError, match=r"a.parquet row 2: duplicate id 'g1' \(first seen in a.parquet row 0\)"):
        _run(src, tmp_path / "o1", "fail")
    result = _run(src, tmp_path / "o2", "skip")
    assert read_output(tmp_path / "o2").column("id").to_pylist() == ["g1", "g2"]
    assert result.errors[0]["row"] == 2 and result.errors[0]["reason"] == "duplicate_id"


def test_empty_input_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for policy in ("fail", "skip"):
        with pytest.raises(InputError, match="no input shards"):
            _run(tmp_path / "empty", tmp_path / f"o-{policy}", policy)


def test_output_inside_input(tmp_path: Path) -> None:
    src = _with_good(tmp_path)
    for policy in ("fail", "skip"):
        with pytest.raises(ConfigError, match="inside the input"):
            _run(src, src / "out", policy)


def test_null_empty_and_huge_texts_are_rejected_not_errors(tmp_path: Path) -> None:
    src = tmp_path / "in"
    huge = "word " * (10 * 1024 * 1024)  # a single 50 MB document
    write_parquet(src / "a.parquet", {"id": ["n", "e", "w", "h", "ok"], "text": [None, "", "  \n ", huge, "fine"]})
    for policy in ("fail", "skip"):
        out = tmp_path / f"o-{policy}"
        result = _run(src, out, policy)
        assert read_output(out).column("id").to_pylist() == ["ok"]
        assert result.errors == []
        assert result.stages[0]["rejected"] == {"empty_text": 3, "too_large": 1}
        rej = pq.read_table(rejected_dir(out, "read"), columns=["id", "reject_reason"]).to_pylist()
        assert {r["id"]: r["reject_reason"] for r in rej} == {"n": "empty_text", "e": "empty_text",
                                                              "w": "empty_text", "h": "too_large"}


def test_max_errors_turns_many_errors_into_a_failure(tmp_path: Path) -> None:
    src = _with_good(tmp_path)
    (src / "b.jsonl").write_text("{bad\n{bad\n{bad\n" + json.dumps({"id": "k", "text": "ok"}) + "\n")
    with pytest.raises(InputError, match="max-errors 2"):
        _run(src, tmp_path / "o1", "skip", max_errors=2)
    assert len(_run(src, tmp_path / "o2", "skip", max_errors=3).errors) == 3
