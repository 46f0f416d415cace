"""Parquet: read by row group, the unit of damage.

A row group that fails to decode (a corrupt page, a page whose CRC does not match when the
writer stored page checksums) is an error for each of its rows that was not yet read; the other
row groups are read. Strings are checked for valid UTF-8 at every nesting level (Parquet readers
do not validate it), and a row holding invalid UTF-8 anywhere is that row's error. A remote file
is read through :mod:`curate.store.storage` by the byte ranges of its footer and row groups, never
downloaded whole: memory is bounded by a row group (plus the store's read-ahead block).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.errors import InputError
from curate.io import lattice
from curate.io.conform import (
    ROW,
    ColumnMap,
    RowError,
    conform_input,
    input_schema,
    project,
    short,
    with_rows,
)
from curate.store.storage import Storage, parse

# What a damaged file or row group raises from pyarrow.
DECODE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError)


@contextmanager
def open_file(path: str | Path, storage: Storage | None = None) -> Iterator[pq.ParquetFile]:
    """The file, open for the block and closed after it (a remote file's read-ahead buffer is
    released at once rather than whenever the garbage collector finds it)."""
    loc = parse(path)
    source = loc.path if loc.is_local else (storage or Storage()).open_input_file(loc)
    try:
        pf = pq.ParquetFile(source, page_checksum_verification=True)
    except BaseException:
        if not loc.is_local:
            source.close()
        raise
    try:
        yield pf
    finally:
        pf.close(force=True)


def file_schema(path: str | Path, storage: Storage | None = None) -> pa.Schema:
    """The file's Arrow schema, dictionaries (pandas `category`) read as their value type."""
    with open_file(path, storage) as pf:
        sch = pf.schema_arrow
    return pa.schema([f.with_type(lattice.normalize(f.type)) for f in sch])


def read(path: str, rel: str, row_groups: tuple[int, int] | None, first_row: int, target: pa.Schema,
         columns: ColumnMap, batch_rows: int, names: list[str] | None, on_row_error: RowError,
         storage: Storage | None = None) -> Iterator[pa.Table]:
    """Stream the row groups' rows conformed to `target` (only `names` if given)."""
    with ExitStack() as stack:
        try:
            pf = stack.enter_context(open_file(path, storage))
        except DECODE_ERRORS as exc:
            raise InputError(f"unreadable Parquet file: {short(exc)}", file=rel) from None
        yield from _read_groups(pf, rel, row_groups, first_row, target, columns, batch_rows, names, on_row_error)


def _read_groups(pf: pq.ParquetFile, rel: str, row_groups: tuple[int, int] | None, first_row: int,
                 target: pa.Schema, columns: ColumnMap, batch_rows: int, names: list[str] | None,
                 on_row_error: RowError) -> Iterator[pa.Table]:
    meta = pf.metadata
    groups = range(*row_groups) if row_groups is not None else range(meta.num_row_groups)
    file_cols = None
    if names is not None:
        file_cols = [c for c in input_schema(project(target, names), columns).names if c in pf.schema_arrow.names]
    out_schema = project(target, names)
    row = first_row
    for rg in groups:
        n = meta.row_group(rg).num_rows
        done = 0
        try:
            for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[rg], columns=file_cols,
                                         use_threads=False):
                table = conform_input(pa.Table.from_batches([batch]), out_schema, columns, rel)
                table = with_rows(table, np.arange(row + done, row + done + table.num_rows, dtype=np.int64))
                done += table.num_rows
                yield drop_invalid_utf8(table, on_row_error)
        except DECODE_ERRORS as exc:
            message = f"row group {rg} is damaged: {short(exc)}"
            for r in range(row + done, row + n):
                on_row_error(r, "damaged_row_group", message)
        row += n


def drop_invalid_utf8(table: pa.Table, on_row_error: RowError) -> pa.Table:
    """Report each row with invalid UTF-8 in any string (at any depth) and return the table without them."""
    bad = np.zeros(table.num_rows, dtype=bool)
    rows = table.column(ROW).to_numpy()
    for name in table.column_names:
        col = table.column(name)
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for path, mask in _invalid_utf8(pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], col.type),
                                        name):
            for i in np.flatnonzero(mask & ~bad):
                on_row_error(int(rows[i]), "invalid_utf8", f"invalid UTF-8 in column '{path}'")
            bad |= mask
    return table.filter(pa.array(~bad)) if bad.any() else table


def _invalid_utf8(arr: pa.Array, path: str) -> Iterator[tuple[str, np.ndarray]]:
    """(column path, per-row mask) for every string leaf of `arr` holding invalid UTF-8."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        mask = np.zeros(len(arr), dtype=bool)
        for i, value in enumerate(arr.cast(pa.large_binary() if pa.types.is_large_string(t) else pa.binary())
                                  .to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    mask[i] = True
        if mask.any():
            yield path, mask
    elif pa.types.is_struct(t):
        for i, child in enumerate(arr.flatten()):
            yield from _invalid_utf8(child, f"{path}.{t.field(i).name}")
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        parents = pc.list_parent_indices(arr).to_numpy()
        for sub, child_mask in _invalid_utf8(arr.flatten(), f"{path}[]"):
            mask = np.zeros(len(arr), dtype=bool)
            mask[parents[child_mask]] = True
            yield sub, mask
