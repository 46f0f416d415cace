"""Atomic writes: every file becomes visible under its final name only when complete."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"


def temp_name(path: Path) -> Path:
    """A unique temporary sibling of `path` (hidden, so readers never pick it up)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def write_table(path: str | Path, table: pa.Table) -> None:
    """Write a whole table as zstd Parquet, atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=COMPRESSION)


class ShardWriter:
    """Streams tables into one zstd Parquet file; renamed into place on :meth:`close`.

    Later tables are cast to the schema of the first one (a stage may type an all-null column
    differently from batch to batch). :meth:`close` with nothing written writes a zero-row file with
    `empty_schema`, so that every task yields its shard.
    """

    def __init__(self, path: str | Path, row_group_rows: int = 65536) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_name(self.path)
        self.row_group_rows = row_group_rows
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    @property
    def schema(self) -> pa.Schema | None:
        return self._writer.schema if self._writer is not None else None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, table.schema, compression=COMPRESSION)
        elif not table.schema.equals(self._writer.schema):
            table = conform(table, self._writer.schema)
        if table.num_rows:
            self._writer.write_table(table, row_group_size=self.row_group_rows)
            self.rows += table.num_rows

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        if self._writer is None:
            pq.write_table((empty_schema or pa.schema([])).empty_table(), self.tmp, compression=COMPRESSION)
        else:
            self._writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - best effort cleanup of a failed write
                pass
        if self.tmp.exists():
            self.tmp.unlink()


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Reorder/cast `table` to `target`, adding all-null columns it lacks; extra columns are an error."""
    extra = [n for n in table.column_names if n not in target.names]
    if extra:
        raise ValueError(f"columns {extra} not in the shard's schema {target.names}")
    cols = []
    for field in target:
        if field.name in table.column_names:
            col = table.column(field.name)
            cols.append(col if col.type == field.type else col.cast(field.type))
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=target)
