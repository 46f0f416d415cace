"""An input format in one file: ``.lines`` text files, one document per non-empty line, its id
the file's name and the line's number (``notes.lines:3``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.io.conform import ColumnMap, RowError
from curate.io.input_format import LocalBatchFormat, ReadOptions


class LinesFormat(LocalBatchFormat):
    name = "lines"
    suffixes = (".lines",)
    help = "Plain text, one document per non-empty line (a test plugin)."

    def file_schema(self, local: Path, columns: ColumnMap) -> pa.Schema:
        return pa.schema([("id", pa.string()), ("text", pa.string())])

    def batches(self, local: Path, names: list[str], options: ReadOptions,
                on_row_error: RowError) -> Iterator[tuple[pa.Table, np.ndarray]]:
        lines = [(i, line) for i, line in enumerate(local.read_text(encoding="utf-8").splitlines()) if line.strip()]
        rows = np.arange(len(lines), dtype=np.int64)
        table = pa.table({"id": [f"{local.name}:{i}" for i, _ in lines], "text": [t for _, t in lines]})
        yield table.select([n for n in names if n in table.column_names]), rows
