"""CSV and TSV input (plain or compressed): every column a string (curate.io.delimited)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.io.compressed import CODECS
from curate.io.conform import ColumnMap, RowError
from curate.io.input_format import LocalBatchFormat, ReadOptions, register


@register
class CsvFormat(LocalBatchFormat):
    name = "csv"
    suffixes = tuple(f".{kind}{codec}" for kind in ("csv", "tsv") for codec in ("", *CODECS))
    help = ("CSV/TSV with a header row, plain or compressed; every column read as a string, "
            "--csv-delimiter for another delimiter.")

    def file_schema(self, local: Path, columns: ColumnMap) -> pa.Schema:
        from curate.io import delimited

        return delimited.file_schema(local, columns.csv_delimiter)

    def batches(self, local: Path, names: list[str], options: ReadOptions,
                on_row_error: RowError) -> Iterator[tuple[pa.Table, np.ndarray]]:
        from curate.io import delimited

        return delimited.batches(local, names, options.columns.csv_delimiter, options.block_bytes)
