"""The duplicate-id check counts only rows that pass the read (issue 35, finding 7).

The id pre-pass reads ids only; a row whose id is readable but which fails the read itself
(invalid UTF-8 in another column, a damaged row group of another column) must not claim its id:
under --on-error skip a later valid row with the same id is kept, and is the one a third copy
is a duplicate of."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import data_dir
from tests.hostile import check_accounting, run


def _text(values: list[bytes]) -> pa.Array:
    return pa.array(values, pa.binary()).view(pa.string())


def test_a_row_with_invalid_utf8_elsewhere_claims_no_id(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": ["x", "a1"], "text": _text([b"bad \xff bytes", b"a fine document"])}),
                   src / "a.parquet")
    pq.write_table(pa.table({"id": ["b0", "x"], "text": _text([b"another document", b"the readable x"])}),
                   src / "b.parquet")
    pq.write_table(pa.table({"id": ["x"], "text": _text([b"a third x"])}), src / "c.parquet")
    o = run(tmp_path, src, "skip")
    check_accounting(o, ["a1", "b0", "x"], 5)
    assert [(e["file"], e["row"], e["reason"]) for e in o.errors] == [
        ("a.parquet", 0, "invalid_utf8"), ("c.parquet", 0, "duplicate_id")]
    assert o.errors[1]["message"] == "duplicate id (first seen in b.parquet row 1)"
    kept = pq.read_table(sorted(data_dir(o.out).glob("part-*.parquet"))[1]).to_pylist()
    assert {"id": "x", "text": "the readable x"} in [{k: r[k] for k in ("id", "text")} for r in kept]


def test_rows_of_a_damaged_row_group_claim_no_ids(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    ids = [f"d{i}" for i in range(400)]
    path = src / "a.parquet"
    pq.write_table(pa.table({"id": ids, "text": [f"document number {i} of the damaged file" for i in range(400)]}),
                   path, row_group_size=200)
    meta = pq.ParquetFile(path).metadata.row_group(1).column(1)  # group 1's text column: ids stay readable
    data = bytearray(path.read_bytes())
    data[meta.data_page_offset:meta.data_page_offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    assert pq.read_table(path, columns=["id"]).column("id").to_pylist() == ids
    again = ids[250:260]  # ids of the damaged group, present again (readable) in a later file
    pq.write_table(pa.table({"id": again, "text": [f"a readable copy of {i}" for i in again]}), src / "b.parquet")
    o = run(tmp_path, src, "skip")
    check_accounting(o, ids[:200] + again, 410)
    assert {e["reason"] for e in o.errors} == {"damaged_row_group"}
    assert [e["row"] for e in o.errors] == list(range(200, 400))
