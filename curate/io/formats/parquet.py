"""Parquet input: split into tasks by row groups, streamed by byte ranges (local or remote)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from curate.io import parquet
from curate.io.conform import RowError
from curate.io.input_format import InputFormat, ReadOptions, Split, register
from curate.store.storage import Storage


@register
class ParquetFormat(InputFormat):
    name = "parquet"
    suffixes = (".parquet",)
    help = "Apache Parquet; split into tasks of whole row groups, streamed from object stores by byte range."
    streams_remote = True

    def splits(self, path: str, storage: Storage, target_task_bytes: int) -> list[Split]:
        """Runs of row groups of about `target_task_bytes` uncompressed; one split (that fails when
        read, under the error policy) if the footer cannot be read."""
        try:
            with parquet.open_file(path, storage) as pf:
                meta = pf.metadata
        except parquet.DECODE_ERRORS:
            return [Split()]
        if meta.num_row_groups == 0:
            return [Split((0, 0), 0, 0)]
        out, start, acc, first_row, row = [], 0, 0, 0, 0
        for rg in range(meta.num_row_groups):
            acc += meta.row_group(rg).total_byte_size
            row += meta.row_group(rg).num_rows
            if acc >= target_task_bytes or rg == meta.num_row_groups - 1:
                out.append(Split((start, rg + 1), first_row, acc))
                start, acc, first_row = rg + 1, 0, row
        return out

    def schema(self, path: str, rel: str, options: ReadOptions, storage: Storage) -> pa.Schema:
        return parquet.file_schema(path, storage)

    def read(self, path: str, rel: str, split: Split, target: pa.Schema, options: ReadOptions,
             names: list[str] | None, on_row_error: RowError, storage: Storage) -> Iterator[pa.Table]:
        return parquet.read(path, rel, split.row_groups, split.first_row, target, options.columns,
                            options.batch_rows, names, on_row_error, storage)

    def rereads(self, path: str) -> bool:
        return True
