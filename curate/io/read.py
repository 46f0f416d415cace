"""Shard discovery, task split and streaming reads with bounded memory.

Task i is the i-th (file, row-group range) in sorted order of relative path: a Parquet file is
split by row groups into tasks of about `target_task_bytes` uncompressed; a JSONL file (plain,
gzip or zstd) is one task. Reads stream Arrow tables of at most `batch_rows` rows (Parquet) or
`block_bytes` (JSONL), so a 2 GB shard is never loaded whole.

All files are conformed to one unified schema (see :func:`unify_schemas`), with the id/text
columns renamed to the canonical ``id``/``text``.
"""

from __future__ import annotations

import io as _io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curate import schema
from curate.errors import InputError
from curate.io import auto_ids, formats
from curate.io.compressed import open_input
from curate.io.json_lines import check_json_lines

PARQUET = "parquet"
JSONL = "jsonl"
# JSON Lines under dolma's .json names too; CSV/TSV and Hugging Face Arrow files: curate.io.formats.
SUFFIXES = {".parquet": PARQUET,
            **{f"{ext}{codec}": JSONL for ext in (".jsonl", ".json") for codec in ("", ".gz", ".zst", ".bz2", ".xz")},
            **formats.SUFFIXES}
DEFAULT_TARGET_TASK_BYTES = 256 << 20
DEFAULT_BATCH_ROWS = 8192
DEFAULT_BLOCK_BYTES = 16 << 20
# Column the reader adds to every table: the row's 0-based position in its file (for error
# messages and duplicate-id lookups). The runner drops it before any stage sees the table.
ROW = "__row"


@dataclass(frozen=True)
class Task:
    """One unit of work: a file, or a range of row groups of a Parquet file."""

    index: int
    path: str
    rel: str  # path relative to the input directory, for messages and ordering
    fmt: str
    row_groups: tuple[int, int] | None = None  # [start, end) for Parquet splits
    first_row: int = 0  # row number, within the file, of the task's first row
    nbytes: int = 0  # uncompressed size estimate (Parquet) or file size (JSONL)

    @property
    def label(self) -> str:
        if self.row_groups is None:
            return self.rel
        return f"{self.rel}[row groups {self.row_groups[0]}..{self.row_groups[1] - 1}]"


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    if formats.is_sidecar(name):
        return None
    for suffix, fmt in SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


def discover(input_path: str | Path) -> list[tuple[Path, str]]:
    """Sorted (path, relative name) of every shard under `input_path` (recursively).

    Names starting with ``_`` or ``.`` (``_SUCCESS``, ``_stats.json``, ``_rejected/``, temp
    files) are skipped, so a curate output directory can be the input of the next run.
    """
    root = Path(input_path)
    if not root.exists():
        raise InputError("input does not exist", file=str(root))
    if root.is_file():
        if file_format(root) is None:
            raise InputError(f"unsupported file type (expected one of {', '.join(SUFFIXES)})", file=str(root))
        return [(root, root.name)]
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(("_", ".")) for part in rel.parts):
            continue
        if path.is_file() and file_format(path) is not None:
            found.append((path, rel.as_posix()))
    if not found:
        raise InputError(f"no input shards ({', '.join(SUFFIXES)}) found", file=str(root))
    found.sort(key=lambda item: item[1])
    return found


def plan_tasks(files: list[tuple[Path, str]], target_task_bytes: int = DEFAULT_TARGET_TASK_BYTES) -> list[Task]:
    """Split files into tasks; unreadable Parquet metadata makes a one-task file that fails on read."""
    tasks: list[Task] = []
    for path, rel in files:
        fmt = file_format(path)
        if fmt == PARQUET:
            try:
                meta = pq.ParquetFile(path).metadata
            except Exception:  # noqa: BLE001 - reported when the task is read, under the error policy
                tasks.append(Task(len(tasks), str(path), rel, fmt))
                continue
            start, acc, first_row, row = 0, 0, 0, 0
            for rg in range(meta.num_row_groups):
                acc += meta.row_group(rg).total_byte_size
                row += meta.row_group(rg).num_rows
                if acc >= target_task_bytes or rg == meta.num_row_groups - 1:
                    tasks.append(Task(len(tasks), str(path), rel, fmt, (start, rg + 1), first_row, acc))
                    start, acc, first_row = rg + 1, 0, row
            if meta.num_row_groups == 0:
                tasks.append(Task(len(tasks), str(path), rel, fmt, (0, 0), 0, 0))
        else:
            tasks.append(Task(len(tasks), str(path), rel, fmt, None, 0, path.stat().st_size))
    return tasks


@dataclass(frozen=True)
class ColumnMap:
    """Which input columns hold the id and the text."""

    id: str = schema.ID
    text: str = schema.TEXT
    csv_delimiter: str | None = None  # None: by suffix (.csv comma, .tsv tab)

    def rename(self, names: list[str]) -> list[str]:
        out = []
        for n in names:
            if n == self.id and self.id != auto_ids.AUTO:
                out.append(schema.ID)
            elif n == self.text:
                out.append(schema.TEXT)
            elif n in (schema.ID, schema.TEXT):
                out.append(f"orig_{n}")  # an input 'text' column that is not the text: keep it, renamed
            else:
                out.append(n)
        return out


def file_schema(path: Path, fmt: str, rel: str, columns: ColumnMap | None = None) -> pa.Schema:
    """Schema of one shard (JSONL: inferred from its first block)."""
    try:
        if fmt == PARQUET:
            return pq.read_schema(path)
        if fmt in formats.SUFFIXES.values():
            return formats.file_schema(path, fmt, columns.csv_delimiter if columns else None)
        check_json_lines(path, rel)
        with _open_stream(path) as stream:
            reader = pajson.open_json(stream, read_options=pajson.ReadOptions(block_size=1 << 20))
            return reader.schema
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        if fmt == JSONL:  # some bad lines: infer from the lines that parse (the bad ones are reported on read)
            sch = _schema_from_good_lines(path)
            if sch is not None:
                return sch
        raise InputError(f"unreadable {fmt} file: {_short(exc)}", file=rel) from None
    except (OSError, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"unreadable {fmt} file: {_short(exc)}", file=rel) from None


def _schema_from_good_lines(path: Path, limit: int = 1000) -> pa.Schema | None:
    good = []
    try:
        with _open_stream(path) as stream, _io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                try:
                    obj = json.loads(line)
                    if isinstance(obj, dict):
                        _check_str_utf8(obj)
                        good.append(obj)
                except (ValueError, UnicodeError):
                    continue
                if len(good) >= limit:
                    break
        return pa.Table.from_pylist(good).schema if good else None
    except (OSError, pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def unify_schemas(schemas: list[tuple[str, pa.Schema]], columns: ColumnMap) -> pa.Schema:
    """One schema for all shards: fields merged, types promoted where Arrow allows (int -> float,
    null -> anything); a conflict (e.g. int vs string) is an InputError naming both files."""
    unified: pa.Schema | None = None
    first_seen: dict[str, tuple[str, pa.DataType]] = {}
    for rel, sch in schemas:
        sch = pa.schema([f.with_name(n) for f, n in zip(sch, columns.rename(sch.names))])
        for f in sch:
            first_seen.setdefault(f.name, (rel, f.type))
        if unified is None:
            unified = sch
            continue
        try:
            unified = pa.unify_schemas([unified, sch], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            for f in sch:
                other_rel, other_type = first_seen[f.name]
                try:
                    pa.unify_schemas([pa.schema([pa.field(f.name, other_type)]), pa.schema([f])],
                                     promote_options="permissive")
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    raise InputError(
                        f"column '{f.name}' is {f.type} here but {other_type} in {other_rel}; "
                        "the shards cannot be unified to one schema", file=rel) from None
            raise
    assert unified is not None
    if columns.id == auto_ids.AUTO:
        unified = auto_ids.add_id_field(unified)
    for required, flag in ((schema.ID, columns.id), (schema.TEXT, columns.text)):
        if required not in unified.names:
            missing_in = next(rel for rel, sch in schemas if flag not in sch.names)
            raise InputError(f"missing required column '{flag}' (use --{required}-column to map another name)",
                             file=missing_in)
    text_type = unified.field(schema.TEXT).type
    if not (schema.is_string_type(text_type) or pa.types.is_null(text_type)):
        bad = next(rel for rel, sch in schemas if columns.text in sch.names
                   and not schema.is_string_type(sch.field(columns.text).type))
        raise InputError(f"column '{columns.text}' must be a string, found {text_type}", file=bad)
    # ids are compared as strings everywhere: promote integer ids.
    fields = [pa.field(f.name, pa.string()) if f.name in (schema.ID, schema.TEXT) else f for f in unified]
    return pa.schema(fields)


class _RowError(Exception):
    def __init__(self, row: int, reason: str, message: str):
        self.row, self.reason, self.message = row, reason, message


def read_task(task: Task, target: pa.Schema, columns: ColumnMap, batch_rows: int = DEFAULT_BATCH_ROWS,
              block_bytes: int = DEFAULT_BLOCK_BYTES, on_row_error=None,
              project: list[str] | None = None) -> Iterator[pa.Table]:
    """Stream the task's rows as tables conformed to `target` (or only its `project` columns),
    each with a ROW column holding the row's position in its file.

    Unparseable JSONL lines are passed to `on_row_error(row, reason, message)` (which raises
    under the fail policy, records under skip); a broken file raises InputError.
    """
    if on_row_error is None:
        def on_row_error(row: int, reason: str, message: str) -> None:
            raise InputError(message, file=task.rel, row=row, reason=reason)
    if task.fmt == PARQUET:
        tables = _read_parquet(task, target, columns, batch_rows, project, on_row_error)
    elif task.fmt in formats.SUFFIXES.values():
        tables = _read_other(task, target, columns, block_bytes, project, on_row_error)
    else:
        tables = _read_jsonl(task, target, columns, block_bytes, on_row_error, project)
    yield from auto_ids.with_auto_ids(tables, task.rel, ROW) if columns.id == auto_ids.AUTO else tables


def _read_parquet(task: Task, target: pa.Schema, columns: ColumnMap, batch_rows: int,
                  project: list[str] | None, on_row_error) -> Iterator[pa.Table]:
    try:
        pf = pq.ParquetFile(task.path)
        if task.row_groups is None:
            groups = list(range(pf.metadata.num_row_groups))
        else:
            groups = list(range(*task.row_groups))
        if not groups:
            return
        file_cols = None
        if project is not None:
            file_cols = [c for c in _input_schema(target, columns).names
                         if columns.rename([c])[0] in project and c in pf.schema_arrow.names]
        row = task.first_row
        for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=file_cols, use_threads=False):
            table = conform_input(pa.Table.from_batches([batch]), _project(target, project), columns, task.rel)
            table = _with_rows(table, np.arange(row, row + table.num_rows, dtype=np.int64))
            row += table.num_rows
            yield _drop_invalid_utf8(table, on_row_error)
    except (pa.ArrowInvalid, OSError, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"unreadable Parquet file: {_short(exc)}", file=task.rel) from None


def _read_other(task: Task, target: pa.Schema, columns: ColumnMap, block_bytes: int,
                project: list[str] | None, on_row_error) -> Iterator[pa.Table]:
    """A format of curate.io.formats, conformed like the others."""
    wanted = _project(target, project)
    names = [f.name for f in _input_schema(wanted, columns)]
    try:
        for table, rows in formats.batches(Path(task.path), task.fmt, names, columns.csv_delimiter, block_bytes):
            table = _with_rows(conform_input(table, wanted, columns, task.rel), rows)
            yield _drop_invalid_utf8(table, on_row_error)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"unreadable {task.fmt} file: {_short(exc)}", file=task.rel) from None


def _open_stream(path: Path) -> pa.NativeFile:
    return open_input(path)


def _project(target: pa.Schema, project: list[str] | None) -> pa.Schema:
    return target if project is None else pa.schema([f for f in target if f.name in project])


def _with_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    return table.append_column(ROW, pa.array(rows, pa.int64()))


def _read_jsonl(task: Task, target: pa.Schema, columns: ColumnMap, block_bytes: int,
                on_row_error, project: list[str] | None) -> Iterator[pa.Table]:
    """Fast path: Arrow's streaming JSON reader. On a parse error, fall back to a line-by-line
    reader for the whole file that locates the bad lines (rows already yielded are skipped)."""
    input_schema = _input_schema(target, columns)
    yielded = 0
    try:
        with _open_stream(Path(task.path)) as stream:
            reader = pajson.open_json(
                stream,
                read_options=pajson.ReadOptions(block_size=block_bytes, use_threads=False),
                parse_options=pajson.ParseOptions(explicit_schema=input_schema, unexpected_field_behavior="ignore"),
            )
            for batch in reader:
                table = pa.Table.from_batches([batch])
                table = conform_input(table, _project(target, project), columns, task.rel)
                _check_utf8(table, task.rel, yielded)
                yield _with_rows(table, np.arange(yielded, yielded + table.num_rows, dtype=np.int64))
                yielded += table.num_rows
        return
    except (pa.ArrowInvalid, pa.ArrowTypeError, _InvalidUtf8):
        pass
    except OSError as exc:
        raise InputError(f"unreadable JSONL file: {_short(exc)}", file=task.rel) from None
    yield from _read_jsonl_slow(task, _project(target, project), columns, input_schema, skip_rows=yielded,
                                on_row_error=on_row_error)


def _read_jsonl_slow(task: Task, target: pa.Schema, columns: ColumnMap, input_schema: pa.Schema,
                     skip_rows: int, on_row_error, chunk: int = 4096) -> Iterator[pa.Table]:
    rows: list[dict] = []
    row_numbers: list[int] = []
    row = -1
    try:
        with _open_stream(Path(task.path)) as stream, _io.TextIOWrapper(stream, encoding="utf-8",
                                                                          errors="surrogateescape") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row += 1
                if row < skip_rows:
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError("a JSON object per line expected")
                    _check_str_utf8(obj)
                    record = {k: obj.get(k) for k in input_schema.names}
                    pa.Table.from_pylist([record], schema=input_schema)  # type-check this row alone
                except (ValueError, UnicodeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    reason = "invalid_utf8" if isinstance(exc, UnicodeError) else "invalid_json"
                    on_row_error(row, reason, _short(exc))
                    continue
                rows.append(record)
                row_numbers.append(row)
                if len(rows) >= chunk:
                    yield _with_rows(conform_input(pa.Table.from_pylist(rows, schema=input_schema), target, columns,
                                                   task.rel), np.array(row_numbers, dtype=np.int64))
                    rows, row_numbers = [], []
    except OSError as exc:
        raise InputError(f"unreadable JSONL file: {_short(exc)}", file=task.rel) from None
    if rows:
        yield _with_rows(conform_input(pa.Table.from_pylist(rows, schema=input_schema), target, columns, task.rel),
                         np.array(row_numbers, dtype=np.int64))


class _InvalidUtf8(Exception):
    pass


def _check_utf8(table: pa.Table, rel: str, offset: int) -> None:
    for name in table.column_names:
        col = table.column(name)
        if schema.is_string_type(col.type):
            try:
                col.validate(full=True)
            except pa.ArrowInvalid:
                raise _InvalidUtf8() from None


def _drop_invalid_utf8(table: pa.Table, on_row_error) -> pa.Table:
    """Parquet string columns are not validated on read: find rows with invalid UTF-8, report
    each through `on_row_error`, and return the table without them."""
    bad = np.zeros(table.num_rows, dtype=bool)
    for name in table.column_names:
        col = table.column(name)
        if not schema.is_string_type(col.type):
            continue
        try:
            col.validate(full=True)
        except pa.ArrowInvalid:
            for i, value in enumerate(col.cast(pa.binary()).to_pylist()):
                if value is not None and not bad[i]:
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        bad[i] = True
                        on_row_error(int(table.column(ROW)[i].as_py()), "invalid_utf8",
                                     f"invalid UTF-8 in column '{name}' at byte {exc.start}")
    if bad.any():
        table = table.filter(pa.array(~bad))
    return table


def _check_str_utf8(obj: dict) -> None:
    for value in obj.values():
        if isinstance(value, str):
            value.encode("utf-8")  # raises on lone surrogates and undecodable bytes


def _input_schema(target: pa.Schema, columns: ColumnMap) -> pa.Schema:
    """`target` with the user's original id/text column names (what the files contain)."""
    back = {schema.ID: columns.id, schema.TEXT: columns.text}
    # an input 'id'/'text' that is not the id/text was kept as orig_id/orig_text (ColumnMap.rename)
    back.update({f"orig_{n}": n for n, mapped in ((schema.ID, columns.id), (schema.TEXT, columns.text)) if mapped != n})
    return pa.schema([f.with_name(back.get(f.name, f.name)) for f in target])


def conform_input(table: pa.Table, target: pa.Schema, columns: ColumnMap, rel: str) -> pa.Table:
    """Rename id/text, cast to the unified schema and add missing columns as nulls."""
    table = table.rename_columns(columns.rename(table.column_names))
    cols = []
    for field in target:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                try:
                    col = col.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise InputError(f"column '{field.name}' cannot be read as {field.type}: {_short(exc)}",
                                     file=rel) from None
            cols.append(col)
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=target)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
