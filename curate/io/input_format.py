"""The input format protocol and its registry.

An input format knows its file suffixes, a file's schema, how to split a file into tasks, and how
to stream a task's rows conformed to the run's unified schema, each with its row number in the
file (column ``ROW``). What the generic reader (:mod:`curate.io.read`) does with them, and what
it reports for bad rows and files, is the same for every format.

Built-in formats are the modules of :mod:`curate.io.formats`, one file each; another package adds
one with a class deriving :class:`InputFormat` and an entry point in the ``curate.input_formats``
group (see :mod:`curate.registry`). A format keeps its heavy imports inside its methods, so that
listing the formats stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from curate.io.conform import ColumnMap, RowError
from curate.registry import Registry

if TYPE_CHECKING:
    from curate.store.storage import Storage


@dataclass(frozen=True)
class Split:
    """One task's part of a file: all of it, or a range of Parquet row groups."""

    row_groups: tuple[int, int] | None = None  # [start, end)
    first_row: int = 0  # row number, within the file, of the split's first row
    nbytes: int = 0  # uncompressed size estimate, or the file's size


@dataclass(frozen=True)
class ReadOptions:
    """How a task is read: columns (id/text names, CSV delimiter) and batch sizes."""

    columns: ColumnMap
    batch_rows: int
    block_bytes: int


class InputFormat:
    """One input format. Subclasses set ``name``, ``suffixes`` (lower case, matched at the end of a
    file name) and ``help``, and implement :meth:`schema` and :meth:`read`."""

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    help: ClassVar[str] = ""
    # Whether a file at a URI is streamed from its store (True) or first copied to the local
    # scratch directory, because the library that reads it needs a local file (False).
    streams_remote: ClassVar[bool] = False
    # File names of the format's own metadata that sit among its data files and are not data.
    sidecars: ClassVar[frozenset[str]] = frozenset()
    # Columns named like curate's own (``_curate_*``) that the format's reader makes itself (the
    # reason a WARC record is no page); any other such column in a file is refused.
    own_columns: ClassVar[frozenset[str]] = frozenset()

    def matches(self, name: str) -> bool:
        """Whether a file name (lower case, without directories) is this format's."""
        return name.endswith(self.suffixes)

    def splits(self, path: str, storage: Storage, target_task_bytes: int) -> list[Split]:
        """How the file is cut into tasks; by default one task holding the whole file."""
        from curate.store.storage import parse

        loc = parse(path)
        size = Path(loc.path).stat().st_size if loc.is_local else storage.info(loc).size or 0
        return [Split(None, 0, size)]

    def wanted(self, path: str, columns: ColumnMap, storage: Storage) -> bool:
        """Whether the file is read at all with these options (a DatasetDict split not chosen
        with --split, a dolma attribute file: read with its documents); True by default."""
        return True

    def schema(self, path: str, rel: str, options: ReadOptions, storage: Storage) -> pa.Schema:
        """The file's schema, as its columns are named in the file."""
        raise NotImplementedError

    def read(self, path: str, rel: str, split: Split, target: pa.Schema, options: ReadOptions,
             names: list[str] | None, on_row_error: RowError, storage: Storage) -> Iterator[pa.Table]:
        """Stream the split's rows conformed to `target` (only the `names` columns if given), each
        table with a ``ROW`` column; bad rows go to `on_row_error`, a broken file raises
        InputError."""
        raise NotImplementedError

    def rereads(self, path: str) -> bool:
        """Whether a global stage's apply pass should read this file again rather than a copy of
        the rows written in the first pass (docs/performance.md, "No copy of the input")."""
        return False

    def warm_up(self, sample: pa.Table) -> None:
        """Compile (or load from numba's cache) the kernels the reader uses; nothing by default."""

    def kernels(self) -> list[object]:
        """The numba kernels :meth:`warm_up` compiles (their cache tells whether it must run)."""
        return []

    def local_file(self, path: str, storage: Storage) -> Path:
        """A local file with the content of `path` (itself, or a copy of a remote file in the
        scratch directory), for the formats whose library reads local files only."""
        return storage.local_file(path)


class LocalBatchFormat(InputFormat):
    """A format whose library reads a local file in batches of named columns (CSV, Arrow IPC,
    WARC): a remote file is copied to the scratch directory first, and the batches are conformed
    to the run's schema like any other format's. Subclasses implement :meth:`file_schema` and
    :meth:`batches` on the local file."""

    def file_schema(self, local: Path, columns: ColumnMap) -> pa.Schema:
        raise NotImplementedError

    def batches(self, local: Path, names: list[str], options: ReadOptions,
                on_row_error: RowError) -> Iterator[tuple[pa.Table, Any]]:
        """(table of the `names` columns the file has, row number of each row) per batch; rows
        the format can tell are damaged (a WARC record) go to `on_row_error`."""
        raise NotImplementedError

    def schema(self, path: str, rel: str, options: ReadOptions, storage: Storage) -> pa.Schema:
        return self.file_schema(self.local_file(path, storage), options.columns)

    def read(self, path: str, rel: str, split: Split, target: pa.Schema, options: ReadOptions,
             names: list[str] | None, on_row_error: RowError, storage: Storage) -> Iterator[pa.Table]:
        from curate.errors import InputError
        from curate.io.conform import conform_input, input_schema, project, short, with_rows
        from curate.io.parquet import drop_invalid_utf8

        wanted = project(target, names)
        file_names = [f.name for f in input_schema(wanted, options.columns)]
        try:
            local = self.local_file(path, storage)
            for table, rows in self.batches(local, file_names, options, on_row_error):
                yield drop_invalid_utf8(with_rows(conform_input(table, wanted, options.columns, rel), rows),
                                        on_row_error)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"unreadable {self.name} file: {short(exc)}", file=rel) from None


INPUT_FORMATS: Registry[type[InputFormat]] = Registry("input format", "curate.io.formats", "curate.input_formats")
register = INPUT_FORMATS.register
_INSTANCES: dict[str, InputFormat] = {}


def input_format(name: str) -> InputFormat:
    """The registered format `name` (one instance per process)."""
    if name not in _INSTANCES:
        _INSTANCES[name] = INPUT_FORMATS.get(name)()
    return _INSTANCES[name]


def format_of(path: str | Path) -> InputFormat | None:
    """The format of a file by its name, or None (unknown type, or a format's metadata file)."""
    name = str(path).rsplit("/", 1)[-1].lower()
    found = INPUT_FORMATS.find(lambda cls: name in cls.sidecars)
    if found is not None:
        return None
    # the longest matching suffix wins (".warc.gz" over ".gz"-less names, ".json" vs ".jsonl")
    best = max(((max(len(s) for s in cls.suffixes if name.endswith(s)), cls.name)
                for cls in INPUT_FORMATS.classes() if name.endswith(cls.suffixes)), default=None)
    return input_format(best[1]) if best else None


def all_suffixes() -> list[str]:
    """Every suffix a registered format reads, for messages."""
    return [s for cls in INPUT_FORMATS.classes() for s in cls.suffixes]
