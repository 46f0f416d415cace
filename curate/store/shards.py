"""Parquet shards streamed batch by batch into one file that appears under its name when closed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from curate.store.files import COMPRESSION, ROW_GROUP_ROWS, Files


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Reorder/cast `table` to `target`, adding all-null columns it lacks; extra columns are an error."""
    extra = [n for n in table.column_names if n not in target.names]
    if extra:
        raise ValueError(f"columns {extra} not in the shard's schema {target.names}")
    cols = []
    for f in target:
        if f.name in table.column_names:
            col = table.column(f.name)
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=target)


class ShardWriter:
    """Streams tables into one zstd Parquet file that appears under its name on :meth:`close`.

    Later tables are cast to the schema of the first one (a stage may type an all-null column
    differently from batch to batch). :meth:`close` with no rows written writes a zero-row file
    with no row group (the schema of the first table, else `empty_schema`), so that every task
    yields its shard: a file with one empty row group is valid Parquet too, but Hugging Face
    ``datasets`` cannot read it (it sizes its batches by the first row group: "BatchSize must be
    greater than 0").
    """

    def __init__(self, files: Files, path: str, row_group_rows: int = ROW_GROUP_ROWS,
                 compression: str = COMPRESSION, compression_level: int | None = None) -> None:
        self.files, self.path, self.compression, self.level = files, path, compression, compression_level
        self.upload = files.upload(path)
        self.row_group_rows = row_group_rows
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.upload.stream, table.schema, compression=self.compression,
                                                compression_level=self.level)
        elif not table.schema.equals(self._writer.schema):
            table = conform(table, self._writer.schema)
        if table.num_rows:
            self._writer.write_table(table, row_group_size=self.row_group_rows)
            self.rows += table.num_rows

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        try:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.upload.stream, empty_schema or pa.schema([]),
                                                compression=self.compression,
                                                compression_level=self.level)
            self._writer.close()
        except BaseException:
            self.upload.abort()
            raise
        self.upload.commit()

    def abort(self) -> None:
        """Throw the file away: nothing appears under its name (an upload is aborted)."""
        if self._writer is not None:
            self._writer.is_open = False  # its sink is thrown away: never write a footer into it
        self.upload.abort()
