"""Shard discovery, task split and streaming reads with bounded memory: the formats' dispatch.

Task i is the i-th (file, row-group range) in sorted order of relative path: a Parquet file is
split by row groups into tasks of about `target_task_bytes` uncompressed; a JSONL file (plain,
gzip or zstd) is one task. Reads stream Arrow tables of at most `batch_rows` rows (Parquet) or
`block_bytes` (JSONL), so a 2 GB shard is never loaded whole. What each format reports as a row
error or a file error: :mod:`curate.io.parquet`, :mod:`curate.io.jsonl`; what the directory
walk reports: :mod:`curate.io.discover`.

All files are conformed to one unified schema (see :func:`unify_schemas`), with the id/text
columns renamed to the canonical ``id``/``text``.

The input may be a URI (``s3://``, ``gs://``, ``hf://``, ``memory://``, see :mod:`curate.store.storage`):
its prefix is listed recursively with the same rules as a local directory walk, and a remote
shard's name in tasks, messages and ``_curate/errors.jsonl`` is its full URI (its relative path with
the prefix in front, so tasks sort in the same order as a local copy's). Parquet and JSON Lines
stream from the store; CSV/TSV, WARC and Hugging Face Arrow files are copied to the local scratch
directory first (their readers need a local file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from curate import schema
from curate.errors import InputError
from curate.io import auto_ids, lattice
from curate.io import discover as walker
from curate.io.conform import (
    ROW,
    ColumnMap,
    RowError,
    conform_input,
    lift_schema,
    path_roots,
    short,
)
from curate.io.input_format import (
    InputFormat,
    ReadOptions,
    Split,
    all_suffixes,
    format_of,
    input_format,
)
from curate.store.storage import Location, Storage, parse

DEFAULT_TARGET_TASK_BYTES = 256 << 20
DEFAULT_BATCH_ROWS = 8192
DEFAULT_BLOCK_BYTES = 16 << 20  # JSON Lines and CSV read blocks of about this many bytes
__all__ = ["ROW", "ColumnMap", "Task", "conform_input", "discover", "file_schema", "plan_tasks", "read_task",
           "unify_schemas"]


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
    storage: Storage | None = field(default=None, compare=False, repr=False)  # how to open a remote path

    @property
    def format(self) -> InputFormat:
        return input_format(self.fmt)

    @property
    def split(self) -> Split:
        return Split(self.row_groups, self.first_row, self.nbytes)

    @property
    def label(self) -> str:
        if self.row_groups is None:
            return self.rel
        return f"{self.rel}[row groups {self.row_groups[0]}..{self.row_groups[1] - 1}]"


def file_format(path: str | Path) -> str | None:
    """The name of the registered input format of a file, by its name (None: not an input file)."""
    fmt = format_of(path)
    return fmt.name if fmt is not None else None


def _suffixes() -> str:
    return ", ".join(all_suffixes())


def discover(input_path: str | Path, on_problem: walker.Problem = walker.raise_problem, strict: bool = False,
             warn: Callable[[str], None] | None = None, storage: Storage | None = None) -> list[tuple[str, str]]:
    """Sorted (path or URI, name) of every shard under `input_path` (recursively); the name is
    the path relative to `input_path` for a local directory, the URI for a remote shard.

    Every other entry is accounted for (see :mod:`curate.io.discover`): problems go to
    `on_problem(rel, reason, message)` (default: raise InputError); files of unknown type get one
    warning through `warn` with their count, or an InputError with `strict`.
    """
    loc = parse(input_path)
    problems: list[dict[str, str]] = []  # entries left out under --on-error skip, for the message
    if not loc.is_local:
        found = _walk_remote(loc, storage or Storage())
        root_name = loc.uri
    else:
        root = Path(loc.path)
        root_name = str(root)
        if not walker.is_utf8(root_name):
            raise InputError("the path is not valid UTF-8: rename it", file=walker.shown(root_name),
                             reason="bad_file_name")
        if not root.exists() and not root.is_symlink():
            raise InputError("input does not exist", file=str(root))
        if not root.is_dir():
            if not root.is_file():
                raise InputError("not a regular file or directory (never opened)", file=str(root),
                                 reason="special_file")
            if file_format(root) is None:
                raise InputError(f"unsupported file type (expected one of {_suffixes()})", file=str(root))
            return [(str(root), root.name)]
        def noted(rel: str, reason: str, message: str) -> None:
            problems.append({"file": rel, "message": message})
            on_problem(rel, reason, message)

        found = walker.walk(root, lambda p: file_format(p) is not None, noted)
    if found.unknown:
        examples = ", ".join(f"'{u}'" for u in found.unknown[:3])
        message = (f"{len(found.unknown)} file(s) of unknown type (not {_suffixes()}), e.g. {examples}")
        if strict:
            raise InputError(message + "; --strict-inputs refuses them", file=root_name, reason="unknown_file_type")
        if warn is not None:
            warn(f"{message}: not read")
    if not found.shards:
        raise nothing_readable(f"no input shards ({_suffixes()}) found", root_name, problems)
    return [(str(path), rel) for path, rel in found.shards]


def nothing_readable(message: str, where: str, problems: list[dict]) -> InputError:
    """The error of a run left with no shard to read: `message`, and why, from the first of the
    `problems` (file, message) that left entries out under --on-error skip."""
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        message = f"{message}: {first['file']}: {first['message']}{more}"
    return InputError(message, file=where)


def _walk_remote(loc: Location, storage: Storage) -> walker.Walk:
    """A remote input: one object, or every object under the prefix, skipped and sorted by the
    rules of the local walk (an object store has no symlinks or special files)."""
    import pyarrow.fs as pafs

    found = walker.Walk()
    try:
        info = storage.info(loc)
    except OSError as exc:
        raise InputError(f"cannot read input: {short(exc)}", file=loc.uri) from None
    if info.type == pafs.FileType.File:
        if file_format(loc.path) is None:
            raise InputError(f"unsupported file type (expected one of {_suffixes()})", file=loc.uri)
        found.shards.append((loc.uri, loc.uri))
        return found
    if info.type == pafs.FileType.NotFound:
        raise InputError("input does not exist", file=loc.uri)
    try:
        listed = sorted(rel for rel, _ in storage.walk(loc))
    except OSError as exc:
        raise InputError(f"cannot list input: {short(exc)}", file=loc.uri) from None
    for rel in listed:
        if any(part.startswith(("_", ".")) for part in rel.split("/")):
            continue
        uri = loc.child(rel).uri
        if file_format(rel) is None:
            found.unknown.append(uri)
        else:
            found.shards.append((uri, uri))
    return found


def plan_tasks(files: list[tuple[str, str]], target_task_bytes: int = DEFAULT_TARGET_TASK_BYTES,
               storage: Storage | None = None, columns: ColumnMap | None = None) -> list[Task]:
    """Split files into tasks, as each file's format cuts it (Parquet: runs of row groups),
    leaving out the files a format does not read with these options (InputFormat.wanted)."""
    tasks: list[Task] = []
    storage = storage or Storage()
    for path, rel in files:
        path = str(path)
        fmt = format_of(path)
        assert fmt is not None, path  # discover found only files of a registered format
        if not fmt.wanted(path, columns or ColumnMap(), storage):
            continue
        for split in fmt.splits(path, storage, target_task_bytes):
            tasks.append(Task(len(tasks), path, rel, fmt.name, split.row_groups, split.first_row, split.nbytes,
                              storage))
    return tasks


def file_schema(path: str | Path, fmt: str, rel: str, columns: ColumnMap | None = None,
                block_bytes: int = DEFAULT_BLOCK_BYTES, storage: Storage | None = None) -> pa.Schema:
    """Schema of one shard (JSONL: over all its lines, see :mod:`curate.io.jsonl`)."""
    columns = columns or ColumnMap()
    try:
        options = ReadOptions(columns, DEFAULT_BATCH_ROWS, block_bytes)
        sch = input_format(fmt).schema(str(path), rel, options, storage or Storage())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise InputError(f"unreadable {fmt} file: {short(exc)}", file=rel) from None
    columns.check_not_internal([n for n in sch.names if n not in input_format(fmt).own_columns], rel)
    sch = lift_schema(sch, columns, rel) if columns.lifted else sch
    columns.check_unique(sch.names, rel)
    return sch


def unify_schemas(schemas: list[tuple[str, pa.Schema]], columns: ColumnMap) -> pa.Schema:
    """One schema for all shards, joined with the promotion lattice of :mod:`curate.io.lattice`;
    a conflict (e.g. int vs string) is an InputError naming both files."""
    types: dict[str, pa.DataType] = {}
    first_seen: dict[str, tuple[str, pa.DataType]] = {}
    for rel, sch in schemas:
        for f, name in zip(sch, columns.rename(sch.names)):
            t = lattice.normalize(f.type)
            if name not in types:
                types[name] = t
                first_seen[name] = (rel, t)
                continue
            joined = lattice.join(types[name], t, int_to_string=name == schema.ID)
            if joined is None:
                other_rel, other_type = first_seen[name]
                path = lattice.conflict_path(types[name], t, name)
                raise InputError(f"column '{path}' is {t} here but {other_type} in {other_rel}; "
                                 "the shards cannot be unified to one schema", file=rel)
            types[name] = joined
    if columns.id == auto_ids.AUTO:
        types = {schema.ID: pa.string(), **types} if schema.ID not in types else types
    for required, flag in ((schema.ID, columns.id), (schema.TEXT, columns.text)):
        if required not in types:
            missing_in = next(rel for rel, sch in schemas if flag not in sch.names)
            raise InputError(f"missing required column '{flag}' (use --{required}-column to map another name)",
                             file=missing_in)
    for rel, sch in schemas:
        for f, name in zip(sch, columns.rename(sch.names)):
            kind = schema.STAGE_COLUMN_KINDS.get(name)
            if kind and not (kind[1](f.type) or pa.types.is_null(f.type)):
                raise InputError(f"column '{f.name}' is {f.type}, but curate's stages make and read '{name}' as "
                                 f"{kind[0]}: rename the column", file=rel, reason="bad_schema")
    text_type = types[schema.TEXT]
    if not (schema.is_string_type(text_type) or pa.types.is_null(text_type)):
        bad = next(rel for rel, sch in schemas if columns.text in sch.names
                   and not (schema.is_string_type(sch.field(columns.text).type)
                            or pa.types.is_null(sch.field(columns.text).type)))
        raise InputError(f"column '{columns.text}' must be a string, found {text_type}", file=bad)
    # ids are compared as strings everywhere: promote integer ids.
    return pa.schema([pa.field(n, pa.string() if n in (schema.ID, schema.TEXT) else t) for n, t in types.items()])


def read_task(task: Task, target: pa.Schema, columns: ColumnMap, batch_rows: int = DEFAULT_BATCH_ROWS,
              block_bytes: int = DEFAULT_BLOCK_BYTES, on_row_error: RowError | None = None,
              project: list[str] | None = None) -> Iterator[pa.Table]:
    """Stream the task's rows as tables conformed to `target` (or only its `project` columns),
    each with a ROW column holding the row's position in its file.

    Rows that cannot be read are passed to `on_row_error(row, reason, message)` (which raises
    under the fail policy, records under skip); a broken file raises InputError. JSONL reads all
    columns even with `project`, so a row is an error or not whatever is projected.
    """
    if on_row_error is None:
        def on_row_error(row: int, reason: str, message: str) -> None:
            raise InputError(message, file=task.rel, row=row, reason=reason)
    if project is not None and columns.lifted:  # a dotted id or text is read out of its struct column
        project = [*project, *path_roots(project, target, columns)]
    options = ReadOptions(columns, batch_rows, block_bytes)
    tables = task.format.read(task.path, task.rel, task.split, target, options, project, on_row_error,
                              task.storage or Storage())
    yield from auto_ids.with_auto_ids(tables, task.rel, ROW) if columns.id == auto_ids.AUTO else tables
