"""Streams kept between passes: written with each row's position, read back batch by batch, and
merged by position for a union.

A row's position is its place in its origin (the input task, or a reshaping stage's output
shard), assigned when the row enters the graph and carried alongside every batch. Branches of one
origin keep their rows in order, so a union merges its branches' streams (each sorted by
position) into the origin's order: the union of a route's outputs is its input, in input order,
whatever the order its inputs are listed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.pipeline.graph import INPUT_NODE, REJECTED, StreamRef
from curate.store.files import Files
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


def read_stream(files: Files, path: str, batch_rows: int) -> tuple[pa.Schema, Iterator[Batch]]:
    """The schema (without positions) and the batches of one stream kept under ``_curate/work/``."""
    pf = files.parquet_file(path)
    sch = pf.schema_arrow
    sch = sch.remove(sch.get_field_index(POSITION))

    def batches() -> Iterator[Batch]:
        for b in pf.iter_batches(batch_size=batch_rows, use_threads=False):
            t = pa.Table.from_batches([b])
            yield t.drop_columns([POSITION]), t.column(POSITION).to_numpy()

    return sch, batches()


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

    def path(self, task: int) -> str:
        return self.store.stream_rows(self.folder, task)

    def schema(self, task: int) -> pa.Schema:
        sch = self.store.files.parquet_file(self.path(task)).schema_arrow
        return sch.remove(sch.get_field_index(POSITION))

    def rows(self, task: int) -> int:
        return self.store.files.num_rows(self.path(task))

    def batches(self, task: int) -> tuple[pa.Schema, Iterator[Batch]]:
        return read_stream(self.store.files, self.path(task), self.batch_rows)

    def read(self, task: int) -> pa.Table:
        return self.store.files.read_table(self.path(task)).drop_columns([POSITION])
