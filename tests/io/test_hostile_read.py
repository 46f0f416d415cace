"""Hostile files, read by the CLI under both error policies: the exit code, the one-line message
(file, row, column) and exact accounting (every undamaged id kept once; rows in = kept + rejected +
errored). The first group reproduces the faults reported against the reader, the second holds
further fault classes (see docs/reliability.md)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import InputError
from curate.io import jsonl_scan, read
from tests.conftest import data_dir
from tests.hostile import check_accounting, docs, jsonl, run


def _ids(rows: list[dict], skip: set[int] = frozenset()) -> list[str]:
    return [str(r["id"]) for i, r in enumerate(rows) if i not in skip]


def _both(tmp: Path, src: Path, message: str, good: list[str], rows_in: int, *flags: str):
    """Fail: exit 2 with one line matching `message`; skip: exit 0 with exact accounting."""
    failed = run(tmp, src, "fail", *flags)
    assert failed.code == 2, failed.stderr
    assert re.search(message, failed.error_line()), failed.error_line()
    skipped = run(tmp, src, "skip", *flags)
    check_accounting(skipped, good, rows_in)
    return skipped


# --------------------------------------------------------------------------- the reported faults
def test_two_objects_on_one_line_is_one_error_and_nothing_else_is_lost(tmp_path: Path) -> None:
    rows = docs("a", 8)
    two = json.dumps(rows[2]).encode() + b" " + json.dumps(rows[3]).encode()
    path = jsonl(tmp_path / "in" / "b.jsonl", rows[:3] + rows[4:], raw={2: two, 5: b"{broken"})
    assert path.read_bytes().count(b"\n") == 7
    o = _both(tmp_path, tmp_path / "in", r"b\.jsonl row 2: more than one JSON value", _ids(rows, {2, 3, 6}), 7)
    assert [(e["row"], e["reason"]) for e in o.errors] == [(2, "invalid_json"), (5, "invalid_json")]


def test_unreadable_subdirectory_is_reported(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        jsonl(base / "a.jsonl", docs("a", 2))
        jsonl(base / "locked" / "b.jsonl", docs("b", 2))
        os.chmod(base / "locked", 0)
        problems: list[tuple] = []
        as_user = os.geteuid() == 0  # root reads anything: walk as nobody
        if as_user:
            os.seteuid(65534)
        try:
            found = read.discover(base, lambda *p: problems.append(p))
            with pytest.raises(InputError, match=r"^locked: cannot list directory: Permission denied"):
                read.discover(base)
        finally:
            if as_user:
                os.seteuid(0)
        assert [rel for _, rel in found] == ["a.jsonl"]
        assert problems == [("locked", "unreadable_entry", "cannot list directory: Permission denied")]
    finally:
        os.chmod(base / "locked", 0o755)
        for p in sorted(base.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        base.rmdir()


def test_symlinked_directory_is_followed_and_a_loop_reported(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 3))
    jsonl(tmp_path / "elsewhere" / "b.jsonl", docs("b", 3))
    (src / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (src / "sub").mkdir()
    jsonl(src / "sub" / "c.jsonl", docs("c", 3))
    (src / "sub" / "back").symlink_to(src, target_is_directory=True)
    o = _both(tmp_path, src, r"^error: sub/back: symlink loop: leads back to '\.'", _ids(docs("a", 3))
              + _ids(docs("b", 3)) + _ids(docs("c", 3)), 9)
    assert [(e["file"], e["reason"]) for e in o.errors] == [("sub/back", "symlink_loop")]


def _page_offset(path: Path, rg: int, col: int) -> tuple[int, int]:
    """(offset of the first data page, end of the column chunk) of a column of a row group."""
    meta = pq.ParquetFile(path).metadata.row_group(rg).column(col)
    start = meta.dictionary_page_offset if meta.has_dictionary_page else meta.data_page_offset
    return meta.data_page_offset, start + meta.total_compressed_size


def _ten_groups(path: Path, **kw) -> list[dict]:
    rows = docs("p", 2000)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=200, **kw)
    return rows


def test_corrupt_row_group_errors_only_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "in" / "ten.parquet"
    rows = _ten_groups(path)
    data = bytearray(path.read_bytes())
    offset, _ = _page_offset(path, 3, 1)
    data[offset:offset + 16] = b"\xff" * 16  # the page header of group 3's text column
    path.write_bytes(bytes(data))
    o = _both(tmp_path, tmp_path / "in", r"ten\.parquet row 600: row group 3 is damaged", _ids(rows, set(range(600, 800))),
              2000)
    assert [e["row"] for e in o.errors] == list(range(600, 800))
    assert {e["reason"] for e in o.errors} == {"damaged_row_group"}


def test_page_checksums_are_verified(tmp_path: Path) -> None:
    path = tmp_path / "in" / "crc.parquet"
    rows = _ten_groups(path, write_page_checksum=True, compression="none")
    data = bytearray(path.read_bytes())
    _, end = _page_offset(path, 1, 1)
    data[end - 5] ^= 0x01  # one bit of a text value in group 1
    path.write_bytes(bytes(data))
    flipped = pq.read_table(path).column("text").to_pylist()  # unverified: read without complaint
    assert flipped != [r["text"] for r in rows]
    o = _both(tmp_path, tmp_path / "in", r"crc\.parquet row 200: row group 1 is damaged: .*CRC", _ids(rows, set(range(200, 400))),
              2000)
    assert len(o.errors) == 200


def test_invalid_utf8_in_nested_columns_is_a_row_error(tmp_path: Path) -> None:
    bad = pa.array([b"ok", b"ok", b"bad \xff", b"ok", b"ok"], pa.binary()).view(pa.string())
    meta = pa.StructArray.from_arrays([bad], names=["title"])
    values = pa.array([b"x", b"y", b"z", b"\xc0\xaf", b"w"], pa.binary()).view(pa.string())
    tags = pa.ListArray.from_arrays(pa.array([0, 1, 2, 3, 5, 5], pa.int32()), values)
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": [f"n{i}" for i in range(5)], "text": [f"doc {i}" for i in range(5)],
                             "meta": meta, "tags": tags}), src / "nested.parquet")
    o = _both(tmp_path, src, r"nested\.parquet row 2: invalid UTF-8 in column 'meta\.title'", ["n0", "n1", "n4"], 5)
    assert [(e["row"], e["message"]) for e in o.errors] == [(2, "invalid UTF-8 in column 'meta.title'"),
                                                            (3, "invalid UTF-8 in column 'tags[]'")]


def test_jsonl_types_come_from_the_whole_file(tmp_path: Path) -> None:
    rows = [{"id": f"w{i}", "text": "x" * 200, "score": i, "note": None} for i in range(8000)]  # > 1.5 MB
    rows[-2].update(score=0.5, late="first seen at the end")
    rows[-1]["note"] = "a string after 1.5 MB of nulls"
    jsonl(tmp_path / "in" / "w.jsonl", rows)
    o = run(tmp_path, tmp_path / "in", "fail")
    check_accounting(o, _ids(rows), 8000)
    out = pq.read_table(data_dir(o.out) / "part-00000.parquet")
    assert out.schema.field("score").type == pa.float64()
    assert out.column("score").to_pylist()[-3:] == [7997.0, 0.5, 7999.0]
    assert out.column("late").to_pylist()[-2] == "first seen at the end"
    assert out.column("note").to_pylist()[-1] == "a string after 1.5 MB of nulls"


def test_jsonl_types_span_read_blocks(tmp_path: Path) -> None:
    """The same, through the reader with 4 KB blocks: a type change in a later block is joined."""
    rows = [{"id": f"k{i}", "text": "t" * 50, "n": i} for i in range(400)]
    rows[350]["n"] = 1.25
    path = jsonl(tmp_path / "k.jsonl", rows)
    sch = read.file_schema(path, "jsonl", "k.jsonl", block_bytes=4096)
    target = read.unify_schemas([("k.jsonl", sch)], read.ColumnMap())
    task = read.plan_tasks([(path, "k.jsonl")])[0]
    tables = list(read.read_task(task, target, read.ColumnMap(), block_bytes=4096))
    assert len(tables) >= 8  # one per 4 KB block
    table = pa.concat_tables(tables)
    assert table.column("n").to_pylist()[349:352] == [349.0, 1.25, 351.0]
    assert table.column(read.ROW).to_pylist() == list(range(400))


def test_jsonl_orig_columns_are_kept(tmp_path: Path) -> None:
    rows = [{"id": f"o{i}", "text": "some text", "orig_source": f"site{i}"} for i in range(3)]
    jsonl(tmp_path / "in" / "o.jsonl", rows)
    o = run(tmp_path, tmp_path / "in", "fail")
    check_accounting(o, _ids(rows), 3)
    assert pq.read_table(data_dir(o.out) / "part-00000.parquet").column("orig_source").to_pylist() == ["site0", "site1", "site2"]


def test_displaced_text_column_keeps_its_values(tmp_path: Path) -> None:
    rows = [{"doc": f"d{i}", "body": "the real text", "text": f"not the text {i}"} for i in range(3)]
    jsonl(tmp_path / "in" / "d.jsonl", rows)
    o = run(tmp_path, tmp_path / "in", "fail", "--id-column", "doc", "--text-column", "body")
    assert o.code == 0, o.stderr
    assert pq.read_table(data_dir(o.out) / "part-00000.parquet").column("orig_text").to_pylist()[2] == "not the text 2"


def _nested(depth: int) -> bytes:
    return b'{"id": "deep", "text": "deep doc", "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("depth", [10_000, 51])
def test_deep_nesting_is_a_row_error_before_the_parser(tmp_path: Path, depth: int) -> None:
    rows = docs("d", 4)
    jsonl(tmp_path / "in" / "deep.jsonl", rows, raw={1: _nested(depth)})
    o = _both(tmp_path, tmp_path / "in", rf"deep\.jsonl row 1: nested deeper than {jsonl_scan.MAX_DEPTH} levels",
              _ids(rows, {1}), 4)
    assert o.errors[0]["reason"] == "too_deep"


def test_nesting_at_the_limit_is_written_readably(tmp_path: Path) -> None:
    rows = docs("d", 2)
    jsonl(tmp_path / "in" / "deep.jsonl", rows, raw={1: _nested(jsonl_scan.MAX_DEPTH).replace(b'"deep"', b'"d1"')})
    check_accounting(run(tmp_path, tmp_path / "in", "fail"), _ids(rows), 2)  # kept_ids reads it with DuckDB


def test_surrogate_in_nested_field_and_huge_int_late_are_row_errors(tmp_path: Path) -> None:
    rows = [{"id": f"s{i}", "text": "text", "meta": {"t": "fine"}, "n": i} for i in range(300)]
    raw = {5: b'{"id": "s5", "text": "text", "meta": {"t": "lone \\udc00 here"}, "n": 5}',
           290: b'{"id": "s290", "text": "text", "meta": {"t": "ok"}, "n": 18446744073709551617}'}
    jsonl(tmp_path / "in" / "s.jsonl", rows, raw=raw)
    o = _both(tmp_path, tmp_path / "in", r"s\.jsonl row 5: lone UTF-16 surrogate escape in column 'meta\.t'",
              _ids(rows, {5, 290}), 300)
    assert [(e["row"], e["reason"], e["message"]) for e in o.errors] == [
        (5, "invalid_utf8", "lone UTF-16 surrogate escape in column 'meta.t'"),
        (290, "int_out_of_range", "integer outside the 64-bit range in column 'n'")]


def test_a_numeric_text_is_one_row_error_not_a_file_error(tmp_path: Path) -> None:
    rows = docs("t", 49)
    rows[0]["text"] = 5
    jsonl(tmp_path / "in" / "t.jsonl", rows)
    o = _both(tmp_path, tmp_path / "in", r"t\.jsonl row 0: column 'text' is an integer, expected string",
              _ids(rows, {0}), 49)
    assert o.errors[0]["reason"] == "type_mismatch"


def test_integer_ids_become_strings(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", [{"id": i, "text": f"doc {i}"} for i in range(3)])
    jsonl(src / "b.jsonl", [{"id": 10, "text": "an int id"}, {"id": "s11", "text": "a string id"}])
    pq.write_table(pa.table({"id": pa.array([20, 21], pa.int64()), "text": ["p", "q"]}), src / "c.parquet")
    o = run(tmp_path, src, "fail")
    check_accounting(o, ["0", "1", "2", "10", "s11", "20", "21"], 7)


def test_int_string_conflict_across_files_names_both(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", [{"id": "a", "text": "t", "x": 1}])
    jsonl(src / "b.jsonl", [{"id": "b", "text": "t", "x": "one"}])
    for policy in ("fail", "skip"):
        o = run(tmp_path, src, policy)
        assert o.code == 2
        assert o.error_line() == ("error: b.jsonl: column 'x' is string here but int64 in a.jsonl; "
                                  "the shards cannot be unified to one schema")


def test_dictionary_encoded_strings_are_strings(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    table = pa.table({"id": pa.array(["c0", "c1", "c2"]).dictionary_encode(),
                      "text": pa.array(["same", "same", "other"]).dictionary_encode(),
                      "lang": pa.array(["en", "en", "de"]).dictionary_encode()})
    pq.write_table(table, src / "cat.parquet")
    assert pa.types.is_dictionary(pq.read_schema(src / "cat.parquet").field("text").type)
    pq.write_table(pa.table({"id": ["s0"], "text": ["plain"], "lang": ["fr"]}), src / "plain.parquet")
    o = run(tmp_path, src, "fail")
    check_accounting(o, ["c0", "c1", "c2", "s0"], 4)
    assert pq.read_table(data_dir(o.out) / "part-00000.parquet").column("lang").to_pylist() == ["en", "en", "de"]


def test_special_files_are_reported_never_opened(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 2))
    os.mkfifo(src / "pipe.jsonl")  # opening it would block the run forever
    o = _both(tmp_path, src, r"^error: pipe\.jsonl: a FIFO, not opened$", _ids(docs("a", 2)), 2)
    assert [(e["file"], e["reason"]) for e in o.errors] == [("pipe.jsonl", "special_file")]


def test_unknown_file_types_warn_once_or_fail_with_strict_inputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 2))
    (src / "notes.txt").write_text("hello")
    (src / "sub").mkdir()
    (src / "sub" / "data.docx").write_text("id,text\n")  # .csv is read since CSV input exists
    o = run(tmp_path, src, "fail")
    check_accounting(o, ["a0", "a1"], 2)
    strict = run(tmp_path, src, "skip", "--strict-inputs")
    assert strict.code == 2
    assert "2 file(s) of unknown type" in strict.error_line() and "'notes.txt', 'sub/data.docx'" in strict.error_line()
    warned: list[str] = []
    read.discover(src, warn=warned.append)
    assert len(warned) == 1 and warned[0].startswith("2 file(s) of unknown type")  # the CLI adds "warning: "


def test_control_characters_in_file_names_are_escaped(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "bad\x1b[31m\nname.jsonl", docs("a", 2), raw={1: b"{oops"})
    failed = run(tmp_path, src, "fail")
    assert failed.code == 2
    assert failed.error_line().startswith("error: bad\\x1b[31m\\nname.jsonl row 1: truncated line")
    check_accounting(run(tmp_path, src, "skip"), ["a0"], 2)


# --------------------------------------------------------------------------- further fault classes
LINE_FAULTS = {
    "truncated_last_line": (b'{"id": "f1", "text": "cut her', "invalid_json", r"truncated line"),
    "duplicate_key": (b'{"id": "f1", "text": "one", "text": "two"}', "invalid_json", r"specified twice"),
    "top_level_array": (b'["f1", "text"]', "invalid_json", r"a line must hold one JSON object"),
    "top_level_scalar": (b'"f1"', "invalid_json", r"a line must hold one JSON object"),
    "raw_tab_in_string": (b'{"id": "f1", "text": "tab\there"}', "invalid_json", r"invalid JSON"),
    "overlong_utf8": (b'{"id": "f1", "text": "slash \xc0\xaf"}', "invalid_utf8", r"invalid UTF-8 in column 'text'"),
    "encoded_surrogate_utf8": (b'{"id": "f1", "text": "\xed\xa0\x80"}', "invalid_utf8", r"invalid UTF-8 in column 'text'"),
    "invalid_utf8_key": (b'{"id": "f1", "text": "t", "k\xff": 1}', "invalid_utf8", r"invalid UTF-8 in column 'k"),
    "nul_and_binary_garbage": (b"\x00\x01\x02PK\x03\x04", "invalid_json", r"a line must hold one JSON object"),
    "float_id": (b'{"id": 1.5, "text": "t"}', "type_mismatch", r"column 'id' is a float, expected a string or an integer"),
    "object_id": (b'{"id": {"a": 1}, "text": "t"}', "type_mismatch", r"column 'id' is an object"),
    "id_beyond_int64": (b'{"id": 9223372036854775808, "text": "t"}', "int_out_of_range", r"64-bit range in column 'id'"),
    "missing_value": (b'{"id": "f1", "text": }', "invalid_json", r"invalid JSON"),
    "unbalanced_close": (b'{"id": "f1", "text": "t"}}', "invalid_json", r"more than one JSON value"),
}


@pytest.mark.parametrize("fault", sorted(LINE_FAULTS))
def test_line_fault_is_that_rows_error(tmp_path: Path, fault: str) -> None:
    line, reason, message = LINE_FAULTS[fault]
    rows = docs("f", 5)
    last = fault == "truncated_last_line"
    path = jsonl(tmp_path / "in" / "f.jsonl", rows, raw={4 if last else 1: line})
    if last:
        path.write_bytes(path.read_bytes()[:-1])  # the cut file has no final newline
    bad = 4 if last else 1
    o = _both(tmp_path, tmp_path / "in", rf"f\.jsonl row {bad}: .*{message}", _ids(rows, {bad}), 5)
    assert [(e["row"], e["reason"]) for e in o.errors] == [(bad, reason)]


def test_newline_inside_a_string_splits_into_two_bad_lines(tmp_path: Path) -> None:
    rows = docs("n", 4)
    jsonl(tmp_path / "in" / "n.jsonl", rows, raw={1: b'{"id": "n1", "text": "first\nsecond"}'})
    o = _both(tmp_path, tmp_path / "in", r"n\.jsonl row 1: truncated line", _ids(rows, {1}), 5)
    assert [(e["row"], e["reason"]) for e in o.errors] == [(1, "invalid_json"), (2, "invalid_json")]


def test_broken_symlink_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 2))
    (src / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    o = _both(tmp_path, src, r"^error: gone\.jsonl: broken symlink to .*nowhere\.jsonl$", ["a0", "a1"], 2)
    assert o.errors[0]["reason"] == "broken_symlink"


def test_a_file_reached_twice_is_read_once(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 3))
    (src / "b_alias.jsonl").symlink_to(src / "a.jsonl")
    o = _both(tmp_path, src, r"^error: b_alias\.jsonl: same file as 'a\.jsonl', read once$", _ids(docs("a", 3)), 3)
    assert [e["reason"] for e in o.errors] == ["duplicate_entry"]  # not three duplicate-id errors


def test_minority_type_in_a_column_is_a_row_error_naming_it(tmp_path: Path) -> None:
    rows = [{"id": f"m{i}", "text": "t", "year": 2000 + i} for i in range(10)]
    rows[6]["year"] = "nineteen ninety"
    jsonl(tmp_path / "in" / "m.jsonl", rows)
    o = _both(tmp_path, tmp_path / "in", r"m\.jsonl row 6: column 'year' is a string, expected int64", _ids(rows, {6}),
              10)
    assert pq.read_table(data_dir(o.out) / "part-00000.parquet").schema.field("year").type == pa.int64()


def test_conflict_inside_a_struct_names_the_nested_field(tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "text": "t", "meta": {"score": i, "src": "web"}} for i in range(6)]
    rows[2]["meta"]["score"] = "high"
    jsonl(tmp_path / "in" / "q.jsonl", rows)
    _both(tmp_path, tmp_path / "in", r"q\.jsonl row 2: column 'meta\.score' is a string, expected int64",
          _ids(rows, {2}), 6)


def test_empty_files_are_zero_rows_not_errors(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 2))
    (src / "empty.jsonl").write_bytes(b"")
    (src / "blank.jsonl").write_bytes(b"\n\n  \n")
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), src / "none.parquet")
    o = run(tmp_path, src, "fail")
    check_accounting(o, ["a0", "a1"], 2)
    assert o.errors == []


def test_line_longer_than_the_read_block(tmp_path: Path) -> None:
    rows = docs("l", 5)
    rows[2]["text"] = "long " * 4000  # 20 KB, five 4 KB blocks
    path = jsonl(tmp_path / "l.jsonl", rows, raw={4: b"{bad"})
    sch = read.file_schema(path, "jsonl", "l.jsonl", block_bytes=4096)
    target = read.unify_schemas([("l.jsonl", sch)], read.ColumnMap())
    errors: list[tuple] = []
    tables = list(read.read_task(read.plan_tasks([(path, "l.jsonl")])[0], target, read.ColumnMap(),
                                 block_bytes=4096, on_row_error=lambda *e: errors.append(e)))
    table = pa.concat_tables(tables)
    assert table.column("id").to_pylist() == ["l0", "l1", "l2", "l3"]
    assert table.column("text").to_pylist()[2] == rows[2]["text"]
    assert [e[0] for e in errors] == [4]


def test_int_and_float_join_across_files_bool_and_int_do_not(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", [{"id": "a", "text": "t", "x": 1}])
    jsonl(src / "b.jsonl", [{"id": "b", "text": "t", "x": 2.5}])
    o = run(tmp_path, src, "fail")
    check_accounting(o, ["a", "b"], 2)
    assert pq.read_table(data_dir(o.out) / "part-00001.parquet").column("x").to_pylist() == [2.5]
    jsonl(src / "c.jsonl", [{"id": "c", "text": "t", "x": True}])
    o = run(tmp_path, src, "skip")
    assert o.code == 2 and "c.jsonl: column 'x' is bool here but int64 in a.jsonl" in o.error_line()


def test_damaged_non_text_column_errors_its_row_group(tmp_path: Path) -> None:
    path = tmp_path / "in" / "meta.parquet"
    path.parent.mkdir()
    n = 600
    pq.write_table(pa.table({"id": [f"m{i}" for i in range(n)], "text": ["t"] * n,
                             "score": np.arange(n, dtype=np.float64)}), path, row_group_size=200)
    data = bytearray(path.read_bytes())
    offset, _ = _page_offset(path, 2, 2)
    data[offset:offset + 12] = b"\x00\xff" * 6
    path.write_bytes(bytes(data))
    _both(tmp_path, path.parent, r"meta\.parquet row 400: row group 2 is damaged", [f"m{i}" for i in range(400)], n)


def test_directory_and_hidden_names_are_skipped_by_rule(tmp_path: Path) -> None:
    src = tmp_path / "in"
    jsonl(src / "a.jsonl", docs("a", 2))
    jsonl(src / "_rejected" / "x.jsonl", docs("x", 2))
    jsonl(src / ".cache" / "y.jsonl", docs("y", 2))
    (src / "_SUCCESS").write_text("")
    o = run(tmp_path, src, "fail", "--strict-inputs")
    check_accounting(o, ["a0", "a1"], 2)
