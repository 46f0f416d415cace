"""JSONL (plain, gzip, zstd): a schema pass over the whole file, then a streaming read.

Both passes cut the file into blocks of whole lines and scan each block's lines
(:mod:`curate.io.jsonl_scan`) before Arrow parses the lines that passed, so every row is exactly one
line. A block Arrow cannot take whole (a syntax error, a value of another type) is checked line by
line with Python's json module, which names the column that does not fit; the lines that fit are
parsed by Arrow again, and whatever Arrow still rejects is isolated by halving. Only blocks with a
bad line pay for this (about 15 microseconds per line of such a block).

Column types come from the whole file, joined with :mod:`curate.io.lattice`. Where a column's
values do not join (int and string), the type held by more rows wins and the other rows are row
errors; the text column is always a string and the id a string or an integer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from curate import schema
from curate.errors import InputError
from curate.io import jsonl_scan as scan
from curate.io import lattice
from curate.io.compressed import open_input
from curate.io.conform import ColumnMap, RowError, conform_input, input_schema, short, with_rows
from curate.io.jsonl_lines import LineBlocks, LongLine
from curate.store.storage import Storage

_INT64 = (-(1 << 63), (1 << 63) - 1)
_BOM = b"\xef\xbb\xbf"
_SCAN_FAULTS = {
    scan.NOT_OBJECT: ("invalid_json", "a line must hold one JSON object"),
    scan.TRAILING: ("invalid_json", "more than one JSON value on the line (a line holds one object)"),
    scan.TOO_DEEP: ("too_deep", f"nested deeper than {scan.MAX_DEPTH} levels (the limit keeps every written "
                                "shard readable by Parquet readers)"),
    scan.INT_RANGE: ("int_out_of_range", "integer outside the 64-bit range"),
    scan.SURROGATE: ("invalid_utf8", "lone UTF-16 surrogate escape"),
    scan.INVALID_UTF8: ("invalid_utf8", "invalid UTF-8"),
    scan.UNBALANCED: ("invalid_json", "truncated line (a string, object or list is not closed)"),
}




@dataclass
class _Block:
    """A block of whole lines and what the scan found in each."""

    raw: memoryview
    data: np.ndarray  # uint8 view of raw
    starts: np.ndarray
    ends: np.ndarray
    status: np.ndarray
    rows: np.ndarray  # row number of each non-blank line (0-based among non-blank lines)
    lengths: np.ndarray  # bytes of each line (newline excluded), also of a line too long to be held

    def line(self, i: int) -> bytes:
        return self.data[self.starts[i]:self.ends[i]].tobytes()

    def gather(self, idx: np.ndarray) -> bytes | memoryview:
        """The lines `idx` (ascending), newline-separated, as one buffer."""
        if len(idx) == len(self.starts):
            return self.raw
        keep = np.zeros(len(self.starts), dtype=bool)
        keep[idx] = True
        spans = np.diff(np.append(self.starts, len(self.data) + 1))  # each line with its newline
        mask = np.repeat(keep, spans)[: len(self.data)]
        return self.data[mask].tobytes() + b"\n"


def _blocks(path: str | Path, block_bytes: int, max_line_bytes: int, storage: Storage | None) -> Iterator[_Block]:
    """The file's blocks of whole lines, scanned; a line longer than `max_line_bytes` is a
    TOO_LARGE line (a block of its own when it was too long to be held: no bytes, one line)."""
    row = 0
    first = True
    with open_input(path, storage) as stream:
        for data in LineBlocks(stream, block_bytes, max_line_bytes):
            if isinstance(data, LongLine):
                starts = ends = np.zeros(1, dtype=np.int64)
                yield _Block(memoryview(b""), np.zeros(0, dtype=np.uint8), starts, ends,
                             np.array([scan.TOO_LARGE], dtype=np.int8), np.array([row], dtype=np.int64),
                             np.array([data.nbytes], dtype=np.int64))
                row += 1
                first = False
                continue
            if first and data[:len(_BOM)] == _BOM:
                data = data[len(_BOM):]
            first = False
            buf = np.frombuffer(data, dtype=np.uint8)
            starts, ends, status = scan.scan_lines(buf)
            lengths = ends - starts
            status[(status != scan.BLANK) & (lengths > max_line_bytes)] = scan.TOO_LARGE
            nonblank = status != scan.BLANK
            rows = row + np.cumsum(nonblank) - 1
            row += int(nonblank.sum())
            yield _Block(data, buf, starts, ends, status, rows, lengths)


def _arrow(buf: bytes | memoryview, options: pajson.ParseOptions) -> pa.Table:
    return pajson.read_json(pa.BufferReader(buf), parse_options=options,
                            read_options=pajson.ReadOptions(use_threads=False, block_size=max(len(buf), 1 << 16)))


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def _bisect(block: _Block, idx: np.ndarray, options: pajson.ParseOptions, accept: Callable[[pa.Table], None]
            ) -> tuple[list[tuple[pa.Table, np.ndarray]], list[tuple[int, Exception]]]:
    """Parse lines `idx` of `block` with Arrow, halving on failure: (tables with their lines, failed
    lines). `accept` raises ArrowInvalid for a parsed table that must not be taken whole."""
    good: list[tuple[pa.Table, np.ndarray]] = []
    bad: list[tuple[int, Exception]] = []
    todo = [idx]
    while todo:
        part = todo.pop()
        try:
            table = _arrow(block.gather(part), options)
            if table.num_rows != len(part):
                raise pa.ArrowInvalid(f"{table.num_rows} rows parsed from {len(part)} lines")
            accept(table)
            good.append((table, part))
        except _ARROW_ERRORS as exc:
            if len(part) == 1:
                bad.append((int(part[0]), exc))
            else:
                mid = len(part) // 2
                todo += [part[mid:], part[:mid]]  # the first half is popped first: order is kept
    return good, bad


# --------------------------------------------------------------------------- schema pass
class _ColumnTypes:
    """Per column, the lattice classes of the types seen and how many non-null values each holds."""

    def __init__(self, columns: ColumnMap):
        self.columns = columns
        self.classes: dict[str, list[list[Any]]] = {}

    def add_table(self, table: pa.Table) -> None:
        for name, col in zip(table.column_names, table.columns):
            self._add(name, lattice.normalize_json(col.type), len(col) - col.null_count)

    def add_row(self, obj: dict) -> None:
        for name, value in obj.items():
            t = _json_type(value)
            if t is not None:  # a list of mixed types: that row fails on read
                self._add(name, t, value is not None)

    def _add(self, name: str, t: pa.DataType, n: int) -> None:
        classes = self.classes.setdefault(name, [])
        for cls in classes:
            joined = lattice.join(cls[0], t, int_to_string=name == self.columns.id)
            if joined is not None:
                cls[0], cls[1] = joined, cls[1] + n
                return
        classes.append([t, n])

    def schema(self) -> pa.Schema:
        if not self.classes:  # no row parsed (an empty file, or only bad lines, reported on read)
            return pa.schema([(self.columns.id, pa.null()), (self.columns.text, pa.null())])
        fields = []
        for name, classes in self.classes.items():
            if name == self.columns.text:
                allowed = [c for c in classes if schema.is_string_type(c[0]) or pa.types.is_null(c[0])]
            elif name == self.columns.id:
                allowed = [c for c in classes if schema.is_string_type(c[0]) or pa.types.is_integer(c[0])
                           or pa.types.is_null(c[0])]
            else:
                allowed = classes
            # the most values wins; max() keeps the first of equals
            fields.append(pa.field(name, max(allowed, key=lambda c: c[1])[0] if allowed else pa.null()))
        return pa.schema(fields)


def _json_type(value: Any) -> pa.DataType | None:
    """The Arrow type Arrow's JSON reader gives `value` (None for a list of unjoinable types)."""
    if value is None:
        return pa.null()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, list):
        element: pa.DataType | None = pa.null()
        for v in value:
            t = _json_type(v)
            element = lattice.join(element, t) if element is not None and t is not None else None
        return pa.list_(element) if element is not None else None
    fields = []
    for k, v in value.items():
        t = _json_type(v)
        if t is None:
            return None
        fields.append((k, t))
    return pa.struct(fields)


def file_schema(path: str | Path, rel: str, columns: ColumnMap, block_bytes: int,
                storage: Storage | None = None) -> pa.Schema:
    """The file's column types over all its lines. A block Arrow cannot take whole (values of two
    types in a column) is typed line by line; bad lines are left out (they are reported on read)."""
    types = _ColumnTypes(columns)
    options = pajson.ParseOptions(newlines_in_values=False)
    try:
        for block in _blocks(path, block_bytes, columns.line_limit(), storage):
            ok = np.flatnonzero(block.status == scan.OK)
            if not len(ok):
                continue
            try:
                types.add_table(_arrow(block.gather(ok), options))
            except _ARROW_ERRORS:
                for i in ok:
                    try:
                        types.add_row(json.loads(block.line(int(i))))
                    except ValueError:
                        continue
    except OSError as exc:
        raise InputError(f"unreadable JSONL file: {short(exc)}", file=rel) from None
    return types.schema()


# --------------------------------------------------------------------------- read
def read(path: str | Path, rel: str, target: pa.Schema, columns: ColumnMap, block_bytes: int,
         on_row_error: RowError, storage: Storage | None = None) -> Iterator[pa.Table]:
    """Stream the file's rows conformed to `target`; every line that is not a fitting object is
    passed to `on_row_error(row, reason, message)`.

    A block Arrow cannot take whole is checked line by line in Python (the lines that do not fit
    are row errors), and the rest parsed again; what Arrow still rejects is isolated by halving.
    """
    file_target = input_schema(target, columns)
    # The id is inferred (integers and strings are both ids, cast to string later); every other
    # column is parsed as its unified type, so a value of another type fails its row.
    explicit = pa.schema([f for f in file_target if f.name != columns.id])
    options = pajson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer",
                                  newlines_in_values=False)

    def accept(table: pa.Table) -> None:
        if columns.id in table.column_names:
            t = table.column(columns.id).type
            if not (schema.is_string_type(t) or pa.types.is_integer(t) or pa.types.is_null(t)):
                raise pa.ArrowInvalid(f"id of type {t}")

    try:
        for block in _blocks(path, block_bytes, columns.line_limit(), storage):
            faults = []
            for i in np.flatnonzero(block.status == scan.TOO_LARGE):
                faults.append((int(i), schema.REASON_TOO_LARGE, f"a line of {int(block.lengths[i]):,} bytes, longer "
                               f"than the read limit of {columns.line_limit():,} bytes (it follows --max-doc-bytes): "
                               "not parsed"))
            for i in np.flatnonzero((block.status > scan.BLANK) & (block.status != scan.TOO_LARGE)):
                reason, message = _SCAN_FAULTS[int(block.status[i])]
                faults.append((int(i), reason, _with_column(message, block.line(int(i)), int(block.status[i]))))
            ok = np.flatnonzero(block.status == scan.OK)
            tables: list[tuple[pa.Table, np.ndarray]] = []
            if len(ok):
                try:
                    table = _arrow(block.gather(ok), options)
                    accept(table)
                    tables = [(table, ok)]
                except _ARROW_ERRORS:
                    fit = []
                    for i in ok:
                        verdict = _verdict(block.line(int(i)), file_target, columns)
                        if verdict is None:
                            fit.append(i)
                        else:
                            faults.append((int(i), *verdict))
                    tables, failed = _bisect(block, np.array(fit, dtype=np.int64), options, accept) if fit else ([], [])
                    for i, exc in failed:
                        faults.append((i, "invalid_json", f"invalid JSON: {short(exc)}"))
            for i, reason, message in sorted(faults):
                on_row_error(int(block.rows[i]), reason, message)
            for table, idx in tables:
                table = table.select([n for n in table.column_names if n in file_target.names])
                yield with_rows(conform_input(table, target, columns, rel), block.rows[idx].astype(np.int64))
    except OSError as exc:
        raise InputError(f"unreadable JSONL file: {short(exc)}", file=rel) from None


# --------------------------------------------------------------------------- messages
def _with_column(message: str, line: bytes, status: int) -> str:
    """Name the column holding a fault the scan found (it knows the byte, not the key)."""
    if status not in (scan.INT_RANGE, scan.SURROGATE, scan.INVALID_UTF8):
        return message
    try:
        obj = json.loads(line.decode("utf-8", errors="surrogateescape"))
    except (ValueError, RecursionError):
        return message
    if status == scan.INT_RANGE:
        path = _find(obj, lambda v: isinstance(v, int) and not isinstance(v, bool) and not _INT64[0] <= v <= _INT64[1])
    else:
        path = _find(obj, lambda v: isinstance(v, str) and not _encodes(v))
    return f"{message} in column '{_display(path)}'" if path else message


def _display(text: str) -> str:
    """`text` from a line decoded with surrogateescape, printable: raw bytes as \\xNN, lone
    surrogates as \\uNNNN."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _find(value: Any, bad: Callable[[Any], bool], path: str = "") -> str | None:
    """Dotted path of the first value (or key) in `value` for which `bad` holds."""
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else k
            if bad(k):
                return sub
            found = _find(v, bad, sub)
            if found:
                return found
    elif isinstance(value, list):
        for v in value:
            found = _find(v, bad, f"{path}[]")
            if found:
                return found
    elif bad(value):
        return path or "(row)"
    return None


def _verdict(line: bytes, file_target: pa.Schema, columns: ColumnMap) -> tuple[str, str] | None:
    """None if the line is an object whose values fit their columns, else (reason, message) naming
    the first column that does not fit."""
    try:
        obj = json.loads(line)
    except ValueError as err:
        return "invalid_json", f"invalid JSON: {short(err)}"
    for field in file_target:
        value = obj.get(field.name)
        if field.name == columns.id:
            if value is not None and not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
                return "type_mismatch", f"column '{field.name}' is {_kind(value)}, expected a string or an integer"
            continue
        found = _misfit(value, field.type, field.name)
        if found is not None:
            return "type_mismatch", f"column '{found[0]}' is {_kind(found[1])}, expected {found[2]}"
    return None


def _misfit(value: Any, t: pa.DataType, path: str) -> tuple[str, Any, pa.DataType] | None:
    """(path, value, type) of the first part of `value` that `t` cannot hold, or None."""
    if value is None:
        return None
    if pa.types.is_struct(t):
        if not isinstance(value, dict):
            return path, value, t
        for i in range(t.num_fields):
            f = t.field(i)
            found = _misfit(value.get(f.name), f.type, f"{path}.{f.name}")
            if found:
                return found
        return None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if not isinstance(value, list):
            return path, value, t
        for v in value:
            found = _misfit(v, t.value_type, f"{path}[]")
            if found:
                return found
        return None
    fits = {
        "str": schema.is_string_type(t),
        "bool": pa.types.is_boolean(t),
        "int": pa.types.is_integer(t) or pa.types.is_floating(t),
        "float": pa.types.is_floating(t),
    }.get(type(value).__name__, False)
    return None if fits else (path, value, t)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a float"}.get(type(value), type(value).__name__)
