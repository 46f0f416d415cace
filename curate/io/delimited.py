"""CSV and TSV shards through Arrow's streaming CSV reader: a header row, quoted fields that may
hold the delimiter and newlines, blocks of bounded size.

Every column is read as a string: CSV has no types, and a column that looks numeric in the first
block can hold text further down (Arrow infers types from the first block only). The delimiter
is ``,`` for ``.csv`` and a tab for ``.tsv`` (compressed variants too), or ``--csv-delimiter``.
A malformed row (wrong number of fields) makes the file unreadable, with Arrow's message naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from curate.io.compressed import codec_suffix, open_input

BLOCK_BYTES = 16 << 20


def delimiter_for(path: Path, override: str | None) -> str:
    """`override`, else a tab for a ``.tsv`` file (compressed or not) and a comma otherwise."""
    if override:
        return override
    name = path.name.lower()
    name = name[:len(name) - len(codec_suffix(name))]
    return "\t" if name.endswith(".tsv") else ","


def _parse_options(path: Path, override: str | None) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(delimiter=delimiter_for(path, override), quote_char='"', double_quote=True,
                              newlines_in_values=True)


def file_schema(path: Path, delimiter: str | None = None) -> pa.Schema:
    """The header's column names, every one a string."""
    with open_input(path) as stream:
        names = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=1 << 20, use_threads=False),
                               parse_options=_parse_options(path, delimiter)).schema.names
    return pa.schema([(n, pa.string()) for n in names])


def batches(path: Path, names: list[str], delimiter: str | None = None,
            block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """(table of the `names` columns, row number of each row) per block; a column the file lacks
    is null."""
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, include_columns=names,
                                   include_missing_columns=True, strings_can_be_null=False)
    row = 0
    with open_input(path) as stream:
        reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=block_bytes, use_threads=False),
                                parse_options=_parse_options(path, delimiter), convert_options=convert)
        for batch in reader:
            yield pa.Table.from_batches([batch]), np.arange(row, row + batch.num_rows, dtype=np.int64)
            row += batch.num_rows
