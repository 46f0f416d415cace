"""Small side files read whole through the registered input formats: benchmark sets for
decontamination, proxy-run tables for calibration. Any format curate reads as input works here
too, with the same typing and the same errors naming the file and row; the columns are the
file's own (no id or text column is required, none is renamed)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.errors import InputError
from curate.io.conform import ROW, ColumnMap, short
from curate.io.input_format import ReadOptions, all_suffixes, format_of
from curate.store.storage import Storage

_OPTIONS = ReadOptions(ColumnMap(), batch_rows=65536, block_bytes=16 << 20)


def read_table(path: str, storage: Storage) -> pa.Table:
    """The whole file as one table; an InputError names the file (and the row) when it cannot be
    read."""
    fmt = format_of(path)
    if fmt is None:
        raise InputError(f"unsupported file type (expected one of {', '.join(all_suffixes())})", file=path)

    def on_row_error(row: int, reason: str, message: str) -> None:
        raise InputError(message, file=path, row=row, reason=reason)

    try:
        sch = fmt.schema(path, path, _OPTIONS, storage)
        (split,) = fmt.splits(path, storage, 1 << 62)
        tables = list(fmt.read(path, path, split, sch, _OPTIONS, None, on_row_error, storage))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise InputError(f"unreadable {fmt.name} file: {short(exc)}", file=path) from None
    table = pa.concat_tables(tables) if tables else sch.empty_table().append_column(ROW, pa.array([], pa.int64()))
    return table.drop_columns([ROW])


def read_rows(path: str, storage: Storage) -> list[dict[str, Any]]:
    """The file's rows as dicts. Nested objects come back without the keys a row did not have:
    the file's rows are typed together, and a key one row lacks is null in that row's object,
    which is dropped here (an explicit null reads the same)."""
    return [_without_nulls(row) for row in read_table(path, storage).to_pylist()]


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
