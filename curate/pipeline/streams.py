"""Streams kept between passes: written with each row's position, read back batch by batch (all
columns or only those a pass needs), and merged by position for a union.

A row's position is its place in its origin (the input task, or a reshaping stage's output
shard), assigned when the row enters the graph and carried alongside every batch. Branches of one
origin keep their rows in order, so a union merges its branches' streams (each sorted by
position) into the origin's order: the union of a route's outputs is its input, in input order,
whatever the order its inputs are listed in.

A global stage's apply keeps its rows in order and changes only a few columns (the ones it
produces), so the stream it makes is kept as a *delta* (:class:`DeltaSpec`): its rows' positions
and the columns it changed, over the stream it read (its *base*, named in the file's metadata with
the whole stream's column order). Reading it back joins the base's other columns by position,
streaming, as deep as the chain of deltas goes; a pass that needs only some columns reads only
those (and positions), from whichever file holds them. Both ways give the rows and columns the
whole stream would have held (issue 34: the bytes a run moves).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.pipeline.graph import INPUT_NODE, REJECTED, StreamRef
from curate.store.layout import POSITION, WorkStore
from curate.store.shards import conform

Batch = tuple[pa.Table, np.ndarray]  # rows and their positions


def stream_dir(ref: StreamRef) -> str:
    """The folder name of a stream under ``_curate/work/streams/``."""
    if ref.node == INPUT_NODE:
        return "read"
    return f"{ref.node}.{ref.port.lstrip('@')}"


def with_positions(table: pa.Table, pos: np.ndarray) -> pa.Table:
    return table.append_column(POSITION, pa.array(pos, pa.int64()))


def as_input(table: pa.Table, ref: StreamRef) -> pa.Table:
    """Rows of `ref` as a reader of it sees them: rejected rows arrive kept, their reason in
    ``upstream_reject_reason``."""
    if ref.port != REJECTED or schema.REJECT_REASON not in table.column_names:
        return table
    if schema.UPSTREAM_REJECT_REASON in table.column_names:
        table = table.drop_columns([schema.UPSTREAM_REJECT_REASON])
    names = [schema.UPSTREAM_REJECT_REASON if c == schema.REJECT_REASON else c for c in table.column_names]
    return table.rename_columns(names)


def split_rejected(table: pa.Table, pos: np.ndarray) -> tuple[pa.Table, np.ndarray, pa.Table | None, np.ndarray,
                                                          dict[str, int]]:
    """Split a stage's output into kept rows and rows it marked with a reject reason, with the
    rows' positions (`pos`) split alike: (kept, kept_pos, rejected or None, rejected_pos, counts)."""
    none = np.zeros(0, np.int64)
    if schema.REJECT_REASON not in table.column_names:
        return table, pos, None, none, {}
    reasons = table.column(schema.REJECT_REASON)
    if reasons.null_count == len(reasons):  # the common case: nothing rejected
        return table.drop_columns([schema.REJECT_REASON]), pos, None, none, {}
    mask = pc.fill_null(pc.greater(pc.utf8_length(reasons), 0), False)
    flags = mask.to_numpy(zero_copy_only=False)
    if not flags.any():
        return table.drop_columns([schema.REJECT_REASON]), pos, None, none, {}
    kept = table.filter(pc.invert(mask)).drop_columns([schema.REJECT_REASON])
    rejected = table.filter(mask)
    counts = {d["values"]: d["counts"] for d in pc.value_counts(rejected.column(schema.REJECT_REASON)).to_pylist()}
    return kept, pos[~flags], rejected, pos[flags], counts


BASE_KEY = b"curate.delta.base"  # a delta file's metadata: the folder of the stream it changes
COLUMNS_KEY = b"curate.delta.columns"  # and the whole stream's column order (JSON)
HAS_META_KEY = b"curate.delta.has_metadata"  # "1": the whole rows' schema had metadata (even none: {})


@dataclass(frozen=True)
class DeltaSpec:
    """How a stream is kept as a delta over the stream its node read (`base`, a folder under
    ``_curate/work/streams/``): only `columns` (those the node adds or rewrites) are written, with
    positions; the others are the base's, joined back by position when read. `names` is the whole
    stream's column order."""

    base: str
    columns: tuple[str, ...]
    names: tuple[str, ...]

    def table(self, table: pa.Table, pos: np.ndarray) -> pa.Table:
        """The delta rows of `table` (rows of the stream holding at least `columns`): positions and
        the changed columns, the base and the whole stream's column order in the metadata."""
        part = with_positions(table.select(list(self.columns)), pos)
        meta = {BASE_KEY: self.base.encode(), COLUMNS_KEY: json.dumps(list(self.names)).encode(),
                HAS_META_KEY: b"1" if table.schema.metadata is not None else b"0"}
        return part.replace_schema_metadata({**(table.schema.metadata or {}), **meta})


class _Kept:
    """One task's file of a kept stream: the whole stream, or a delta over a base. Each file of the
    chain is opened once (opening reads its footer)."""

    def __init__(self, store: WorkStore, folder: str, task: int) -> None:
        self.store, self.folder, self.task = store, folder, task
        self.pf = store.files.parquet_file(store.stream_rows(folder, task))
        meta = self.pf.schema_arrow.metadata or {}
        self.base = _Kept(store, meta[BASE_KEY].decode(), task) if BASE_KEY in meta else None
        # the metadata of the whole rows' schema (a delta's without its own keys; None and {} differ
        # in the Parquet files written from them)
        self.meta: dict[bytes, bytes] | None = self.pf.schema_arrow.metadata
        if BASE_KEY in meta:
            own_keys = (BASE_KEY, COLUMNS_KEY, HAS_META_KEY)
            self.meta = {k: v for k, v in meta.items() if k not in own_keys} if meta[HAS_META_KEY] == b"1" else None
        own = self.pf.schema_arrow
        self.own = own.remove(own.get_field_index(POSITION)).remove_metadata()
        if self.base is None:
            self.schema = self.own.with_metadata(self.meta)
        else:
            names, base = json.loads(meta[COLUMNS_KEY]), self.base.schema
            self.schema = pa.schema([self.own.field(n) if n in self.own.names else base.field(n) for n in names],
                                    metadata=self.meta)

    def batches(self, batch_rows: int, columns: list[str] | None) -> Iterator[Batch]:
        """The rows of the whole stream (every column, or `columns`), with their positions."""
        wanted = self.schema.names if columns is None else [n for n in self.schema.names if n in columns]
        sch = pa.schema([self.schema.field(n) for n in wanted], metadata=self.schema.metadata)
        mine = [n for n in wanted if n in self.own.names]
        from_base = [n for n in wanted if n not in self.own.names]
        cursor = None
        if self.base is not None and from_base:
            cursor = _BaseCursor(pa.schema([sch.field(n) for n in from_base]), self.base.batches(batch_rows, from_base))
        for b in self.pf.iter_batches(batch_size=batch_rows, columns=[*mine, POSITION], use_threads=False):
            t = pa.Table.from_batches([b])
            pos = t.column(POSITION).to_numpy()
            cols = {n: t.column(n) for n in mine}
            if cursor is not None:
                base = cursor.take(pos)
                cols.update((n, base.column(n)) for n in from_base)
            yield pa.Table.from_arrays([cols[n] for n in wanted], schema=sch), pos


class _BaseCursor:
    """The rows of a base stream at increasing positions, streaming: one base batch in memory."""

    def __init__(self, sch: pa.Schema, batches: Iterator[Batch]) -> None:
        self.schema, self.batches = sch, batches
        self.table: pa.Table | None = None
        self.pos = np.zeros(0, np.int64)

    def take(self, pos: np.ndarray) -> pa.Table:
        if not len(pos):
            return self.schema.empty_table()
        while not len(self.pos) or self.pos[-1] < pos[-1]:
            if not self._more():
                raise AssertionError(f"a delta stream names position {int(pos[-1])}, which its base lacks")
        idx = np.searchsorted(self.pos, pos)
        if idx[-1] >= len(self.pos) or not np.array_equal(self.pos[idx], pos):
            raise AssertionError("a delta stream names positions its base lacks")
        assert self.table is not None
        rows = self.table.take(pa.array(idx))
        cut = int(idx[-1]) + 1
        self.table, self.pos = self.table.slice(cut), self.pos[cut:]
        return rows

    def _more(self) -> bool:
        nxt = next(self.batches, None)
        if nxt is None:
            return False
        table, pos = nxt
        self.table = table if self.table is None else pa.concat_tables([self.table, table])
        self.pos = np.concatenate([self.pos, pos])
        return True


def read_stream(store: WorkStore, folder: str, task: int, batch_rows: int,
                columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[Batch]]:
    """The schema (without positions) and the batches of task `task`'s rows of a stream kept under
    ``_curate/work/streams/<folder>/``: every column, or only `columns` (in the stream's order)."""
    return _read(_Kept(store, folder, task), batch_rows, columns)


def _read(kept: _Kept, batch_rows: int, columns: list[str] | None) -> tuple[pa.Schema, Iterator[Batch]]:
    sch = kept.schema
    if columns is not None:
        sch = pa.schema([f for f in sch if f.name in columns], metadata=sch.metadata)
    return sch, kept.batches(batch_rows, columns)


def merge_by_position(sources: list[tuple[pa.Schema, Iterator[Batch]]]) -> tuple[pa.Schema, Iterator[Batch]]:
    """One stream of the rows of all `sources` (each sorted by position), in position order,
    streaming: memory holds about one batch per source."""
    if len(sources) == 1:
        return sources[0]
    target = pa.unify_schemas([s for s, _ in sources], promote_options="permissive")

    def merged() -> Iterator[Batch]:
        iters = [it for _, it in sources]
        bufs: list[Batch | None] = [None] * len(iters)
        done = [False] * len(iters)
        while True:
            for i, it in enumerate(iters):
                while bufs[i] is None and not done[i]:
                    nxt = next(it, None)
                    if nxt is None:
                        done[i] = True
                    elif nxt[0].num_rows:
                        bufs[i] = nxt
            live = [b for b in bufs if b is not None]
            if not live:
                return
            # rows up to the smallest last position of a source that may still bring more are final
            bound = min((int(b[1][-1]) for i, b in enumerate(bufs) if b is not None and not done[i]),
                        default=None)
            bound = max(int(b[1][-1]) for b in live) if bound is None else bound
            parts, poss = [], []
            for i, b in enumerate(bufs):
                if b is None:
                    continue
                cut = int(np.searchsorted(b[1], bound, side="right"))
                parts.append(conform(b[0].slice(0, cut), target))
                poss.append(b[1][:cut])
                bufs[i] = (b[0].slice(cut), b[1][cut:]) if cut < len(b[1]) else None
            pos = np.concatenate(poss)
            order = np.argsort(pos, kind="stable")
            yield pa.concat_tables(parts).take(pa.array(order)), pos[order]

    return target, merged()


@dataclass
class KeptStream:
    """A stream an earlier pass kept under ``_curate/work/streams/``, as a global stage's apply reads it
    (the other source of such rows is curate.pipeline.input_rows.InputRows: the same methods)."""

    store: WorkStore
    folder: str  # stream_dir() of the stream
    batch_rows: int
    # the files of the task whose schema was asked last, opened once for the read that follows
    _opened: tuple[int, _Kept] | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": None}

    def _open(self, task: int) -> _Kept:
        if self._opened is not None and self._opened[0] == task:
            kept = self._opened[1]
        else:
            kept = _Kept(self.store, self.folder, task)
        self._opened = (task, kept)
        return kept

    def schema(self, task: int) -> pa.Schema:
        return self._open(task).schema

    def rows(self, task: int) -> int:
        return self.store.files.num_rows(self.store.stream_rows(self.folder, task))

    def batches(self, task: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[Batch]]:
        kept, self._opened = self._open(task), None
        return _read(kept, self.batch_rows, columns)

    def read(self, task: int) -> pa.Table:
        sch, batches = self.batches(task)
        tables = [t for t, _ in batches]
        return pa.concat_tables(tables) if tables else sch.empty_table()
