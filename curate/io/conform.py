"""What every input format shares: the id/text column mapping (dotted paths into struct columns
included), conforming a table to the unified schema, the row-number column, and one-line
exception text for messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError, InputError
from curate.io.jsonl_lines import MAX_LINE_BYTES, line_limit

# Column the reader adds to every table: the row's 0-based position in its file (for error
# messages and duplicate-id lookups). The runner drops it before any stage sees the table.
ROW = schema.INTERNAL_PREFIX + "row"
# Prefix of an input column named like a canonical column it does not hold (an input `text`
# column when --text-column names another), or like a routing column (a run's `reject_reason`
# read again): kept, renamed.
RENAMED = "orig_"
AUTO_ID = "auto"  # --id-column auto: ids made from file and row (curate.io.auto_ids)
# What a reader calls for each row it cannot read: (row, reason, message); raises under the fail
# policy, records under skip.
RowError = Callable[[int, str, str], None]


@dataclass(frozen=True)
class ColumnMap:
    """Which input columns hold the id and the text, and how files are cut into rows.

    A dotted name (``metadata.source``) is a path into a struct column where the files have one
    (dolma keeps a document's attributes under ``metadata``), else a column of that exact name:
    the value is lifted out into a column of its own (see :func:`lift_schema`)."""

    id: str = schema.ID
    text: str = schema.TEXT
    csv_delimiter: str | None = None  # None: by suffix (.csv comma, .tsv tab)
    max_doc_bytes: int | None = None  # sets the longest JSON Lines line read (None: only Arrow's cap)
    split: str | None = None  # a DatasetDict's split to read (None: every split, in a `split` column)
    attributes: tuple[str, ...] | None = None  # dolma attribute sets merged as columns (None: every one)
    paths: tuple[str, ...] = ()  # more dotted names to lift out of struct columns (a label column)

    def __post_init__(self) -> None:
        if self.id == self.text:
            raise ConfigError(f"--id-column and --text-column both name column '{self.text}': the id and the text "
                              "must be two columns (--id-column auto makes ids from file and row)")
        if self.csv_delimiter is not None and (len(self.csv_delimiter) != 1 or self.csv_delimiter in '"\r\n'):
            raise ConfigError(f"--csv-delimiter must be one character other than a quote or a line end, got "
                              f"{self.csv_delimiter!r}")

    @property
    def lifted(self) -> tuple[str, ...]:
        """The dotted names among the id, text and extra columns: each may be a struct path."""
        names = (self.id, self.text, *self.paths)
        return tuple(dict.fromkeys(n for n in names if "." in n and n != AUTO_ID))

    def line_limit(self) -> int:
        """The longest JSON Lines line read (curate.io.jsonl_lines); longer lines are too_large errors."""
        return MAX_LINE_BYTES if self.max_doc_bytes is None else line_limit(self.max_doc_bytes)

    def rename(self, names: list[str]) -> list[str]:
        """Input column names -> unified names (id/text canonical; a displaced `id`/`text` gets
        the `orig_` prefix, a routing column one more: `reject_reason` -> `orig_reject_reason` ->
        `orig_orig_reject_reason`, a one-to-one map)."""
        return [self._renamed(n) for n in names]

    def _renamed(self, name: str) -> str:
        if name == self.id and self.id != AUTO_ID:
            return schema.ID
        if name == self.text:
            return schema.TEXT
        if name in (schema.ID, schema.TEXT) or _is_routing(name):
            return RENAMED + name
        return name

    def input_name(self, name: str) -> str:
        """The inverse of `rename` for one unified name: what the column is called in the files."""
        for canonical, mapped in ((schema.ID, self.id), (schema.TEXT, self.text)):
            if name == canonical:
                return mapped
            if name == RENAMED + canonical and mapped != canonical:
                return canonical
        if name.startswith(RENAMED) and _is_routing(name):
            return name[len(RENAMED):]
        return name

    def check_unique(self, names: list[str], rel: str) -> None:
        """A file whose renamed columns collide (`text` displaced onto an existing `orig_text`)."""
        seen: dict[str, str] = {}
        for original, renamed in zip(names, self.rename(names)):
            if renamed in seen:
                raise InputError(f"columns '{seen[renamed]}' and '{original}' both map to '{renamed}'", file=rel,
                                 reason="bad_schema")
            seen[renamed] = original

    def check_not_internal(self, names: list[str], rel: str) -> None:
        """A file with a column named like curate's own bookkeeping (``_curate_*``)."""
        for name in names:
            if name.startswith(schema.INTERNAL_PREFIX):
                raise InputError(f"column '{name}' has the prefix {schema.INTERNAL_PREFIX} that curate keeps for its "
                                 "own columns: rename it", file=rel, reason="bad_schema")


def _is_routing(name: str) -> bool:
    """A routing column's name with any number of `orig_` prefixes (reject_reason, orig_reject_reason...)."""
    while name.startswith(RENAMED):
        name = name[len(RENAMED):]
    return name in schema.ROUTING_COLUMNS


def _split_path(name: str) -> tuple[str, list[str]]:
    root, *rest = name.split(".")
    return root, rest


def path_type(root_type: pa.DataType, rest: list[str]) -> pa.DataType | None:
    """The type at `rest` (field names) inside a struct type, or None where there is no such field."""
    t = root_type
    for part in rest:
        if not pa.types.is_struct(t) or t.get_field_index(part) < 0:
            return None
        t = t.field(part).type
    return t


def lift_schema(sch: pa.Schema, columns: ColumnMap, rel: str) -> pa.Schema:
    """A file's schema with a field for every dotted name of `columns` that is a path into one of
    its struct columns (typed as the value there); a file with both such a path and a column
    named like it is refused as ambiguous."""
    for name in columns.lifted:
        root, rest = _split_path(name)
        t = path_type(sch.field(root).type, rest) if root in sch.names else None
        if t is None:
            continue
        if name in sch.names:
            raise InputError(f"'{name}' is both a column and a field of the struct column '{root}': rename the "
                             "column", file=rel, reason="bad_schema")
        sch = sch.append(pa.field(name, t))
    return sch


def lift_columns(table: pa.Table, columns: ColumnMap) -> pa.Table:
    """Add the values :func:`lift_schema` announced: each dotted path read out of its struct
    column (a null struct gives a null value) into a column named by the path."""
    for name in columns.lifted:
        root, rest = _split_path(name)
        if root not in table.column_names:
            continue
        struct = table.column(root)
        if path_type(struct.type, rest) is None:
            continue
        if name in table.column_names:
            if struct.null_count == len(struct):  # a reader's placeholder for a struct the file lacks
                continue
            table = table.drop_columns([name])
        table = table.append_column(name, pc.struct_field(struct, rest))
    return table


def path_roots(names: list[str], target: pa.Schema, columns: ColumnMap) -> list[str]:
    """The struct columns of `target` that hold a dotted name's value, for a reader asked for
    `names` only (the id check reads the ids alone): reading a path needs its root."""
    wanted = {columns.input_name(n) for n in names}
    roots = [_split_path(n)[0] for n in columns.lifted if n in wanted]
    return [r for r in dict.fromkeys(roots) if r in target.names and r not in names]


def input_schema(target: pa.Schema, columns: ColumnMap) -> pa.Schema:
    """`target` with the names the files use (the user's id/text columns, displaced names restored)."""
    return pa.schema([f.with_name(columns.input_name(f.name)) for f in target])


def project(target: pa.Schema, names: list[str] | None) -> pa.Schema:
    return target if names is None else pa.schema([f for f in target if f.name in names])


def with_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    return table.append_column(ROW, pa.array(rows, pa.int64()))


def conform_input(table: pa.Table, target: pa.Schema, columns: ColumnMap, rel: str) -> pa.Table:
    """Lift dotted paths out of struct columns, rename id/text, cast to the unified schema and add
    missing columns as nulls."""
    table = lift_columns(table, columns) if columns.lifted else table
    table = table.rename_columns(columns.rename(table.column_names))
    cols = []
    for field in target:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                try:
                    col = col.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise InputError(f"column '{field.name}' cannot be read as {field.type}: {short(exc)}",
                                     file=rel) from None
            cols.append(col)
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=target)


def short(exc: BaseException) -> str:
    """The first line of an exception's text, at most 300 characters."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
