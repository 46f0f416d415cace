"""Random JSONL and Parquet files with random damage, read under --on-error skip: the run exits 0
unless the input as a whole cannot be read for a listed file-level reason, and every undamaged
row's id is kept exactly once, with rows in = kept + rejected + errored."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from curate.io import jsonl_scan
from tests.hostile import check_accounting, run

# What may stop a whole run under --on-error skip (docs/reliability.md).
RUN_LEVEL = re.compile(r"cannot be unified to one schema|no readable input shard")
DAMAGE = ["none", "truncate", "flip", "nest", "mixed_type"]


@dataclass
class Spec:
    fmt: str
    n_rows: int
    damage: str
    where: float  # 0..1: where in the file the damage goes
    flips: int = 1
    row_group_size: int = 10
    ids: list[str] = field(default_factory=list)


specs = st.lists(st.builds(Spec, fmt=st.sampled_from(["jsonl", "parquet"]), n_rows=st.integers(1, 60),
                           damage=st.sampled_from(DAMAGE), where=st.floats(0, 1), flips=st.integers(1, 4),
                           row_group_size=st.integers(3, 25)), min_size=1, max_size=3)


def _rows(spec: Spec, first: int) -> list[dict]:
    spec.ids = [f"r{first + i:05d}" for i in range(spec.n_rows)]
    return [{"id": rid, "text": f"text of {rid} " * (1 + i % 5), "x": i} for i, rid in enumerate(spec.ids)]


def _write_jsonl(path: Path, spec: Spec, rows: list[dict]) -> set[str]:
    """Write the file with its damage; return the ids of the damaged rows."""
    lines = [json.dumps(r).encode() for r in rows]
    k = min(int(spec.where * len(lines)), len(lines) - 1)
    damaged: set[str] = set()
    if spec.damage == "nest":
        lines[k] = (b'{"id": "%s", "text": "deep", "x": ' % spec.ids[k].encode()
                    + b"[" * (jsonl_scan.MAX_DEPTH + 5) + b"]" * (jsonl_scan.MAX_DEPTH + 5) + b"}")
        damaged.add(spec.ids[k])
    if spec.damage == "mixed_type" and len(lines) >= 3:  # one row of another type: the minority
        lines[k] = json.dumps({**rows[k], "x": "not a number"}).encode()
        damaged.add(spec.ids[k])
    data = bytearray(b"\n".join(lines) + b"\n")
    ends = []  # byte offset just past each line's content
    pos = 0
    for line in lines:
        pos += len(line)
        ends.append(pos)
        pos += 1
    if spec.damage == "truncate":
        cut = int(spec.where * len(data))
        data = data[:cut]
        damaged |= {rid for rid, end in zip(spec.ids, ends) if end > cut}
    if spec.damage == "flip":
        # set the high bit of bytes at least 2 apart: each is invalid UTF-8 wherever it lands
        step = max(2, len(data) // (spec.flips + 1))
        for j in range(spec.flips):
            at = min(len(data) - 1, int(spec.where * step) + j * step)
            data[at] ^= 0x80
            starts = [0] + [e + 1 for e in ends[:-1]]
            for rid, s, e in zip(spec.ids, starts, ends):
                if s <= at <= e:  # the newline after a line belongs to it and to the next
                    damaged.add(rid)
                if at == s - 1:
                    damaged.add(rid)
    path.write_bytes(bytes(data))
    return damaged


def _write_parquet(path: Path, spec: Spec, rows: list[dict]) -> set[str] | None:
    """Write the file with its damage; the damaged ids, or None if the file is unreadable as a whole."""
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=spec.row_group_size, write_page_checksum=True,
                   compression="none")
    data = bytearray(path.read_bytes())
    if spec.damage == "truncate":
        path.write_bytes(bytes(data[: int(spec.where * (len(data) - 1))]))  # the footer is gone
        return None
    if spec.damage != "flip":
        return set()
    meta = pq.ParquetFile(path).metadata
    rg = min(int(spec.where * meta.num_row_groups), meta.num_row_groups - 1)
    col = meta.row_group(rg).column(spec.flips % 2)  # id or text
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    data[start + col.total_compressed_size - 1 - spec.flips] ^= 0x01  # inside the last page's data: CRC fails
    path.write_bytes(bytes(data))
    first = sum(meta.row_group(i).num_rows for i in range(rg))
    return set(spec.ids[first:first + meta.row_group(rg).num_rows])


@settings(derandomize=True, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_random_damage_loses_no_undamaged_row(files: list[Spec]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        src = tmp_path / "in"
        src.mkdir()
        good: list[str] = []
        rows_in = 0
        first = 0
        for i, spec in enumerate(files):
            rows = _rows(spec, first)
            first += spec.n_rows
            path = src / f"f{i}.{spec.fmt}"
            damaged = _write_jsonl(path, spec, rows) if spec.fmt == "jsonl" else _write_parquet(path, spec, rows)
            event(f"{spec.fmt}:{spec.damage}")
            if damaged is None:
                continue  # a whole-file error: none of its rows are counted
            good += [rid for rid in spec.ids if rid not in damaged]
            lines = path.read_bytes().split(b"\n") if spec.fmt == "jsonl" else None
            rows_in += sum(1 for x in lines if x.strip()) if lines is not None else spec.n_rows
        o = run(tmp_path, src, "skip")
        event(f"exit {o.code}, {'some' if o.code == 0 and o.errors else 'no'} errors")
        if o.code != 0:
            assert o.code == 2 and RUN_LEVEL.search(o.error_line()), o.stderr
            return
        check_accounting(o, good, rows_in)
