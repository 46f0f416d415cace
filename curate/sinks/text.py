"""Row formats: Parquet (any codec, chosen row-group size) and JSON Lines (plain, gzip, zstd).

JSON Lines rows carry every column of the table, one JSON object a line, UTF-8 (not ASCII
escaped), keys in column order; timestamps and dates as ISO 8601 strings, binary as base64, and
floats that are not finite (NaN, infinities, which JSON has no literal for: Polars' ``read_ndjson``
and ``jq`` refuse Python's ``NaN``) as null, inside lists and structs too. The compressed variants
are single gzip / zstd streams (what ``gzip -d``, ``zstd -d``, pandas and ``datasets`` read). A
task that keeps no rows writes no JSON Lines file (an empty file is not one Polars reads); the
sink's entry in the run's stats lists it under ``empty_tasks``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.sinks.base import AtomicStream, file_size
from curate.store.files import Files, json_default
from curate.store.shards import ShardWriter, conform

JSONL_CODECS = {"jsonl": None, "jsonl.gz": "gzip", "jsonl.zst": "zstd"}


class ParquetSink:
    """One Parquet file per task (the run's own shard writer, with the sink's codec), in row
    groups of exactly `row_group_rows` rows but the last: batches are buffered until a group is
    full, so the group size does not depend on the run's batch size."""

    def __init__(self, files: Files, path: str, compression: str, row_group_rows: int) -> None:
        self.files, self.path, self.row_group_rows = files, path, row_group_rows
        self._writer = ShardWriter(files, path, row_group_rows=row_group_rows, compression=compression)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool) -> None:
        if not self._pending:
            return
        schema = self._pending[0].schema
        rows = pa.concat_tables([t if t.schema.equals(schema) else conform(t, schema) for t in self._pending])
        cut = rows.num_rows - rows.num_rows % self.row_group_rows if whole_groups_only else rows.num_rows
        if cut:
            self._writer.write(rows.slice(0, cut))
        rest = rows.slice(cut)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        self._flush(whole_groups_only=False)
        self._writer.close(empty_schema)
        return {"docs": self._writer.rows, "bytes": file_size(self.files, self.path), "shards": 1}

    def abort(self) -> None:
        self._writer.abort()


def _json_value(obj: Any) -> Any:
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    return json_default(obj)


class JsonlSink:
    """One JSON Lines file per task, optionally compressed as a whole."""

    def __init__(self, files: Files, path: str, fmt: str) -> None:
        self._stream = AtomicStream(files, path, JSONL_CODECS[fmt])
        self.docs = 0

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        encode = json.JSONEncoder(ensure_ascii=False, default=_json_value, allow_nan=False).encode
        table = pa.Table.from_arrays([finite_or_null(c) for c in table.columns], names=table.column_names)
        # one encoder call per row: the standard library has no columnar JSON writer
        lines = "\n".join(encode(row) for row in table.to_pylist()) + "\n"
        self._stream.write(lines.encode("utf-8"))
        self.docs += table.num_rows

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        if not self.docs:  # no empty JSON Lines file (module docstring)
            self._stream.abort()
            return {"docs": 0, "bytes": 0, "shards": 0}
        return {"docs": self.docs, "bytes": self._stream.commit(), "shards": 1}

    def abort(self) -> None:
        self._stream.abort()


def finite_or_null(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """`column` with every float that is not finite replaced by null, at any depth (lists, structs)."""
    if not _holds_floats(column.type):
        return column
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([finite_or_null(c) for c in column.chunks], type=column.type)
    kind = column.type
    if pa.types.is_floating(kind):
        return pc.if_else(pc.is_finite(column), column, pa.scalar(None, kind))
    if pa.types.is_struct(kind):  # flatten() respects a slice and folds the struct's nulls into its fields
        return pa.StructArray.from_arrays([finite_or_null(f) for f in column.flatten()], fields=list(kind),
                                          mask=column.is_null())
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):  # fixed-size lists, maps
        column = column.cast(pa.list_(kind.value_field if pa.types.is_fixed_size_list(kind) else
                                      pa.field("entries", pa.struct([kind.key_field, kind.item_field]), False)))
        kind = column.type
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]),
                       pa.int64() if pa.types.is_large_list(kind) else pa.int32())
    return type(column).from_arrays(offsets, finite_or_null(column.flatten()), mask=column.is_null())


def _holds_floats(kind: pa.DataType) -> bool:
    if pa.types.is_floating(kind):
        return True
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _holds_floats(kind.value_type)
    if pa.types.is_map(kind):
        return _holds_floats(kind.key_type) or _holds_floats(kind.item_type)
    if pa.types.is_struct(kind):
        return any(_holds_floats(f.type) for f in kind)
    return False
