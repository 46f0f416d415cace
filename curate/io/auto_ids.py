"""Ids for corpora without them (C4, many dumps): ``--id-column auto``.

The id of a document is ``PATH:ROW``: PATH its file's path relative to the input directory
(POSIX separators; the file's name when the input is one file) and ROW its 0-based position in
that file (the reader's row number: a Parquet file split into several tasks numbers its rows
across all of them). It depends only on the input's layout, not on workers, executor or task
split, and no two files share a PATH, so ids are unique across the input. An input column
already named ``id`` is kept as ``orig_id``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.io.conform import AUTO_ID as AUTO

__all__ = ["AUTO", "add_id_field", "make_ids", "with_auto_ids"]


def make_ids(rel: str, rows: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``rel:row`` for each row number in `rows`."""
    return pc.binary_join_element_wise(pa.scalar(rel), pc.cast(rows, pa.string()), ":")


def with_auto_ids(tables: Iterator[pa.Table], rel: str, row_column: str) -> Iterator[pa.Table]:
    """Each table with its ``id`` column (present, null) filled from the file and row number."""
    for table in tables:
        ids = make_ids(rel, table.column(row_column))
        yield table.set_column(table.column_names.index(schema.ID), schema.ID, ids)


def add_id_field(unified: pa.Schema) -> pa.Schema:
    """The unified input schema with the generated ``id`` column first."""
    return unified if schema.ID in unified.names else pa.schema([pa.field(schema.ID, pa.string()), *unified])
