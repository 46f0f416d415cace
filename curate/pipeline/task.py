"""One unit of work: one task through one unit of the graph (see curate.pipeline.passes).

A unit reads its entry stream batch by batch (the input file with the read checks; streams an
earlier pass kept, merged by row position for a union; a global stage's apply; a reshaping
stage's output), runs its chain of map stages with each kind's accounting, and sends every
stream it makes to that stream's destinations: sinks, ``_curate/rejected/``, a global stage's
summarize, ``_curate/work/streams/`` for a later unit. All of it is written atomically, then the
unit's done marker. An empty task is one zero-row batch through the same loop, so every shard
it writes has the columns of the others.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import AccountingError, InputError
from curate.executors import batches
from curate.faults import checkpoint
from curate.io import read as reader
from curate.pipeline.graph import INPUT_NODE, READ_NODE, REJECTED, Graph, Node, StreamRef
from curate.pipeline.id_check import ID_NODE, IdCheck
from curate.pipeline.input_rows import (
    ErrorSink,
    InputRows,
    duplicate_rows,
    kept_schema,
    read_checked,
    text_bytes,
)
from curate.pipeline.passes import APPLY, ID_PORT, IDS, READ, STREAMS, UNION_PORT, Schedule, Unit
from curate.pipeline.settings import RunSettings
from curate.pipeline.stage import Stage, TaskContext
from curate.pipeline.stats import StageStats, first_ids
from curate.pipeline.streams import (
    Batch,
    DeltaSpec,
    KeptStream,
    as_input,
    merge_by_position,
    read_stream,
    split_rejected,
    stream_dir,
    with_positions,
)
from curate.store.cache import begin_run
from curate.store.files import COMPRESSION_LEVEL
from curate.store.layout import WorkStore
from curate.store.shards import ShardWriter
from curate.store.state import StageStore

READ_STAGE = READ_NODE


@dataclass
class RunPlan:
    """Everything a worker needs to run one (unit, task): picklable, sent to executors."""

    graph: Graph
    schedule: Schedule
    tasks: list[reader.Task]
    schema: pa.Schema
    settings: RunSettings
    store: WorkStore
    input_rows: InputRows | None = None  # set when a global stage reads the input files again

    @functools.cached_property
    def id_check(self) -> IdCheck:
        return IdCheck(on_error=self.settings.on_error)

    def stage(self, name: str) -> Stage:
        """The stage of node `name`: a node of the graph, or the built-in id check."""
        return self.id_check if name == ID_NODE else self.graph.node(name).stage

    def node_store(self, name: str) -> StageStore:
        """The node's corner of the work store; a global node's reads its input stream (kept
        under _curate/work/, or the input files read again)."""
        if name == ID_NODE:  # reads the ids its own unit gives it; upstream of everything
            return StageStore(self.store, name)
        source = self.schedule.global_input.get(name)
        if source is None:
            rows = None
        elif source == StreamRef(INPUT_NODE) and self.schedule.rereads_input:
            assert self.input_rows is not None
            rows = self.input_rows
        else:
            rows = KeptStream(self.store, stream_dir(source), self.settings.batch_rows)
        return StageStore(self.store, name, rows, tuple(self.graph.ancestors(name)))

    def context(self, name: str, task: reader.Task) -> TaskContext:
        return TaskContext(task_index=task.index, n_tasks=len(self.tasks), source=task.label,
                           seed=self.settings.seed, store=self.node_store(name))


class _Stats:
    """Per-stage stats of one task, in the order stages first report."""

    def __init__(self) -> None:
        self.by_name: dict[str, StageStats] = {}

    def __call__(self, name: str, kind: str) -> StageStats:
        if name not in self.by_name:
            self.by_name[name] = StageStats(stage=name, kind=kind)
        return self.by_name[name]

    def record(self, st: StageStats, kept: pa.Table, counts: dict[str, int], rejected: pa.Table | None) -> None:
        st.docs_out += kept.num_rows
        st.bytes_out += text_bytes(kept)
        new = [reason for reason in counts if reason not in st.examples]
        examples = first_ids(rejected, new) if new and rejected is not None else {}
        for reason, n in counts.items():
            st.add_rejected(reason, n, examples.get(reason))


class _UndeclaredChange(Exception):
    """A global stage's apply changed or dropped a column it does not declare it produces: its
    stream cannot be kept as a delta (the task runs again keeping it whole)."""


@dataclass
class _Delta:
    """A global stage's apply over a stream kept under ``_curate/work/``: the stream it makes is kept
    as a delta over that stream (curate.pipeline.streams.DeltaSpec), and when nothing it feeds
    needs whole rows the pass reads back only `columns` (None: every column)."""

    ref: StreamRef  # the stage's kept stream
    base: str  # the folder of the stream it reads
    produced: tuple[str, ...]
    base_names: tuple[str, ...]  # the base stream's columns
    columns: list[str] | None

    @property
    def read(self) -> tuple[str, ...]:
        """The columns the pass reads back."""
        return self.base_names if self.columns is None else tuple(self.columns)

    def spec(self, table: pa.Table) -> DeltaSpec:
        """What of `table` (the stage's kept rows, whole or of the columns read) is written: the
        columns it produces or adds, in the order the whole rows would have them (the base's
        columns, a rewritten one in its place, then the new ones: as set_column leaves them)."""
        changed = tuple(c for c in table.column_names if c in self.produced or c not in self.read)
        names = (*self.base_names, *(c for c in table.column_names if c not in self.base_names))
        return DeltaSpec(self.base, changed, names)

    def check(self, before: pa.Table, after: pa.Table) -> None:
        """The stage kept the columns it read in their order (new ones after them), and left as they
        were those it does not declare it produces."""
        if after.column_names[:before.num_columns] != before.column_names:
            raise _UndeclaredChange("the column order")
        for name in before.column_names:
            if name in self.produced:
                continue
            if name not in after.column_names or not after.column(name).equals(before.column(name)):
                raise _UndeclaredChange(name)

    @staticmethod
    def plan(plan: RunPlan, unit: Unit, task: int, ctxs: dict[str, TaskContext]) -> _Delta | None:
        """The delta of `unit`'s stream for `task`, if the unit is a global stage's apply over a
        kept stream, with nothing else in the unit and a stage that declares what it produces."""
        if unit.entry.kind != APPLY or unit.chain or unit.entry.node is None:
            return None
        name = unit.entry.node
        store = ctxs[name].store
        assert store is not None
        node, source = plan.graph.node(name), store.input
        produced = node.stage.produced_columns()
        if not isinstance(source, KeptStream) or produced is None or node.stage.output_names():
            return None
        base_names = tuple(source.schema(task).names)
        return _Delta(StreamRef(name), source.folder, produced, base_names, _read_back(plan, node, base_names))


def _read_back(plan: RunPlan, node: Node, available: tuple[str, ...]) -> list[str] | None:
    """The columns a global stage's apply pass needs of its input (None: all of them): those its
    stage and the summarize steps it feeds declare they read (curate.pipeline.stage.Stage.read_columns),
    and the text (the stats count its bytes); all when whole rows go anywhere: to a sink, to
    ``_curate/rejected/`` (keep_rejected), or to a reader of its rejected rows."""
    sched, graph = plan.schedule, plan.graph
    kept, rejected = StreamRef(node.name), StreamRef(node.name, REJECTED)
    if plan.settings.keep_rejected or graph.sinks_of(kept) or graph.sinks_of(rejected) or \
            rejected in sched.materialized or sched.summarizers(rejected):
        return None
    wanted = {schema.TEXT}
    for stage in [node.stage, *(plan.stage(g) for g in sched.summarizers(kept))]:
        cols = stage.read_columns()
        if cols is None:
            return None
        wanted.update(cols)
    return [c for c in available if c in wanted]


class _Outputs:
    """The destinations of every stream one (unit, task) makes, opened on first use: sinks,
    ``_curate/rejected/<node>/``, summarize partials and streams kept for later units."""

    def __init__(self, plan: RunPlan, task: reader.Task, stats: _Stats, delta: _Delta | None = None) -> None:
        self.plan, self.task, self.stats, self.delta = plan, task, stats, delta
        self.writers: dict[str, ShardWriter] = {}
        self.sink_writers: dict[str, Any] = {}  # sink name -> its format's writer of this task's shard
        self.schemas: dict[str, pa.Schema] = {}
        self.summarize_ctxs: dict[str, TaskContext] = {}
        self.sinks: dict[str, dict[str, int]] = {}
        self._plans: dict[StreamRef, tuple[bool, list[str], list[str]]] = {}

    def _writer(self, path: str) -> ShardWriter:
        if path not in self.writers:
            self.writers[path] = ShardWriter(self.plan.store.files, path, compression_level=COMPRESSION_LEVEL)
        return self.writers[path]

    def _plan(self, ref: StreamRef) -> tuple[bool, list[str], list[str]]:
        """(kept for a later unit, sinks, summarizing global nodes) of stream `ref`."""
        if ref not in self._plans:
            sched = self.plan.schedule
            self._plans[ref] = (ref in sched.materialized, self.plan.graph.sinks_of(ref), sched.summarizers(ref))
        return self._plans[ref]

    def wanted(self, ref: StreamRef) -> bool:
        keep, sinks, summarizers = self._plan(ref)
        return keep or bool(sinks) or bool(summarizers)

    def emit(self, ref: StreamRef, table: pa.Table, pos: np.ndarray) -> None:
        keep, sinks, summarizers = self._plan(ref)
        store, t = self.plan.store, self.task.index
        if keep and self.delta is not None and ref == self.delta.ref:  # only what the node changed
            self._writer(store.stream_rows(stream_dir(ref), t)).write(self.delta.spec(table).table(table, pos))
        elif keep:  # kept as its readers see it (rejected rows arrive kept)
            self._writer(store.stream_rows(stream_dir(ref), t)).write(with_positions(as_input(table, ref), pos))
        for name in sinks:
            if name not in self.sink_writers:
                spec = self.plan.graph.sink_spec(name)
                self.sink_writers[name] = spec.open(store.files, store.sink_dir(name), t)
            self.schemas.setdefault(name, table.schema)
            self.sink_writers[name].write(table)
        for g in summarizers:
            self._summarize(g, as_input(table, ref))

    def _summarize(self, g: str, table: pa.Table) -> None:
        if g not in self.summarize_ctxs:
            self.summarize_ctxs[g] = self.plan.context(g, self.task)
        ctx, stage = self.summarize_ctxs[g], self.plan.stage(g)
        t0 = time.perf_counter()
        part = stage.summarize(table, ctx)
        self.stats(g + ":summarize", "summarize").seconds += time.perf_counter() - t0
        ctx.row_offset += table.num_rows
        writer = self._writer(ctx.store.partial(self.task.index))
        if part is not None:
            writer.write(part)

    def reject(self, node: str, table: pa.Table | None) -> None:
        """Rows `node` rejected, kept under ``_curate/rejected/<node>/`` (when keep_rejected is on)."""
        if table is None or not self.plan.settings.keep_rejected or table.num_rows == 0:
            return
        stage_col = pa.array([node] * table.num_rows, pa.string())
        self._writer(self.plan.store.rejected(node, self.task.index)).write(
            table.append_column(schema.REJECT_STAGE, stage_col))

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        for name, w in self.sink_writers.items():
            self.sinks[name] = w.close(self.schemas[name])

    def abort(self) -> None:
        for w in [*self.writers.values(), *self.sink_writers.values()]:
            w.abort()


def run_unit_task(plan: RunPlan, unit: str, task_index: int,
                  file_errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run one task through one unit; write its outputs atomically, then its done marker.

    `file_errors` (under --on-error skip) are errors found for the task's file before the run:
    the task then reads nothing and reports them.
    """
    checkpoint("task_start")
    begin_run(plan.store.attempt)
    task = plan.tasks[task_index]
    try:
        return _UnitRun(plan, unit, task).run(unreadable=file_errors)
    except InputError as exc:
        # a file that breaks mid-way under --on-error skip: the whole task is reported, none of it kept
        if unit != READ_STAGE or plan.settings.on_error == "fail" or exc.row is not None:
            raise
        reason = exc.reason if exc.reason != "bad_input" else "unreadable_file"
        return _UnitRun(plan, unit, task).run(
            unreadable=[{"file": task.rel, "row": None, "reason": reason, "message": exc.detail}])


class _UnitRun:
    def __init__(self, plan: RunPlan, unit: str, task: reader.Task, deltas: bool = True) -> None:
        self.plan, self.task = plan, task
        self.unit = plan.schedule.unit(unit)
        self.stats = _Stats()
        self.ctxs = {n: plan.context(n, task) for n in self.unit.nodes if n != READ_STAGE}
        self.delta = _Delta.plan(plan, self.unit, task.index, self.ctxs) if deltas else None
        self.outs = _Outputs(plan, task, self.stats, self.delta)

    # ---- entries: the batches (rows, positions) leaving the unit's first step ------------------
    def _entry(self, errors: ErrorSink, unreadable: bool) -> Iterator[Batch]:
        entry = self.unit.entry
        if entry.kind == IDS:
            yield from self._ids(unreadable)
        elif entry.kind == READ:
            yield from self._read(errors, unreadable)
        elif entry.kind == STREAMS:
            yield from self._streams(entry.streams)
        elif entry.kind == APPLY:
            yield from self._apply(entry.node)
        else:
            yield from self._reshape(entry.node)

    def _ids(self, unreadable: bool) -> Iterator[Batch]:
        """The task's ids with their row numbers, for the id check's summarize: all of the file's
        or none (a file that breaks is reported, under the error policy, by the read unit)."""
        plan, tables = self.plan, []
        if not unreadable:
            try:
                tables = list(reader.read_task(self.task, plan.schema, plan.settings.columns, 65536,
                                               on_row_error=lambda *a: None, project=[schema.ID]))
            except InputError:
                tables = []
        none = np.zeros(0, np.int64)
        empty = pa.table({schema.ID: pa.array([], pa.string()), reader.ROW: pa.array([], pa.int64())})
        for table in tables or [empty]:
            self.outs.emit(StreamRef(INPUT_NODE, ID_PORT), table.select([schema.ID, reader.ROW]), none)
        return iter(())

    def _read(self, errors: ErrorSink, unreadable: bool) -> Iterator[Batch]:
        plan = self.plan
        rs = self.stats(READ_STAGE, "read")
        batches = iter(()) if unreadable else read_checked(
            self.task, plan.schema, plan.settings, duplicate_rows(plan.store, plan.tasks, self.task.index), errors)
        seen = False
        for b in batches:
            seen = True
            rs.docs_in += b.rows_in
            rs.bytes_in += b.bytes_in
            rs.errored += b.errored
            self.stats.record(rs, b.kept, b.counts, b.rejected)
            rs.seconds += b.seconds
            self.outs.reject(READ_STAGE, b.rejected)
            self.outs.emit(StreamRef(INPUT_NODE), b.kept, b.kept_pos)
            yield b.kept, b.kept_pos
        if not seen:  # one empty batch, so every output gets its columns
            kept, none = kept_schema(plan.schema, plan.settings).empty_table(), np.zeros(0, np.int64)
            self.outs.emit(StreamRef(INPUT_NODE), kept, none)
            yield kept, none

    def _streams(self, refs: tuple[StreamRef, ...]) -> Iterator[Batch]:
        store, rows = self.plan.store, self.plan.settings.batch_rows
        target, batches = merge_by_position([read_stream(store, stream_dir(r), self.task.index, rows) for r in refs])
        merge_for = self.unit.entry.node
        merged_ref = StreamRef(merge_for, UNION_PORT) if merge_for else None
        for table, pos in _at_least_one(batches, (target.empty_table(), np.zeros(0, np.int64))):
            if merged_ref is not None:  # the merged input of a global stage: its summarize and apply read it
                self.outs.emit(merged_ref, table, pos)
            yield table, pos

    def _apply(self, name: str) -> Iterator[Batch]:
        delta = self.delta
        columns = delta.columns if delta is not None else None
        sch, batches = self.ctxs[name].store.input_batches(self.task.index, columns)
        empty = (sch.empty_table(), np.zeros(0, np.int64))
        node = self.plan.graph.node(name)

        def apply(table: pa.Table, ctx: TaskContext) -> pa.Table:
            out = node.stage.apply(table, ctx)
            if delta is not None:
                delta.check(table, out)
            return out

        for table, pos in _at_least_one(batches, empty):
            out = self._step(node, table, pos, apply, "global")
            if out is not None:
                yield out

    def _reshape(self, name: str) -> Iterator[Batch]:
        """A reshaping stage's output for this task, a new origin: positions count its rows."""
        node, ctx = self.plan.graph.node(name), self.ctxs[name]
        st = self.stats(name, "global")
        st.docs_in += ctx.store.input_rows(self.task.index)
        empty = ctx.store.input_schema(self.task.index).empty_table()
        offset = 0
        for table in _at_least_one(iter(node.stage.apply_task(ctx)), empty):
            checkpoint("reshape")
            pos = np.arange(offset, offset + table.num_rows, dtype=np.int64)
            offset += table.num_rows
            kept, kept_pos, rejected, rej_pos, counts = split_rejected(table, pos)
            self.stats.record(st, kept, counts, rejected)
            self._emit_ports(node, kept, kept_pos, rejected, rej_pos)
            yield kept, kept_pos

    # ---- the chain -------------------------------------------------------------------------
    def _step(self, node: Node, table: pa.Table, pos: np.ndarray, fn: Any, kind: str) -> Batch | None:
        """One batch through one stage with its accounting; the rows it keeps (None after a
        stage with named outputs, whose rows all leave through them)."""
        ctx, st = self.ctxs[node.name], self.stats(node.name, kind)
        n_in = table.num_rows
        st.docs_in += n_in
        st.bytes_in += text_bytes(table)
        t0 = time.perf_counter()
        result = fn(table, ctx)
        st.seconds += time.perf_counter() - t0
        ctx.row_offset += n_in
        kept, kept_pos, rejected, rej_pos, counts = split_rejected(result, pos)
        n_out = kept.num_rows + (rejected.num_rows if rejected is not None else 0)
        if n_out != n_in:
            raise AccountingError(f"stage '{node.name}' returned {n_out} rows for {n_in} input rows in "
                                  f"{self.task.label}; stages must mark rows with reject_reason, never drop them")
        self.stats.record(st, kept, counts, rejected)
        return self._emit_ports(node, kept, kept_pos, rejected, rej_pos)

    def _emit_ports(self, node: Node, kept: pa.Table, kept_pos: np.ndarray, rejected: pa.Table | None,
                    rej_pos: np.ndarray) -> Batch | None:
        outs = self.outs
        outs.reject(node.name, rejected)
        rej_ref = StreamRef(node.name, REJECTED)
        if outs.wanted(rej_ref):
            if rejected is None:
                rejected = kept.slice(0, 0).append_column(schema.REJECT_REASON, pa.array([], pa.string()))
            outs.emit(rej_ref, rejected, rej_pos)
        names = node.stage.output_names()
        if not names:
            outs.emit(StreamRef(node.name), kept, kept_pos)
            return kept, kept_pos
        route = kept.column(schema.ROUTE)
        kept = kept.drop_columns([schema.ROUTE])
        st = self.stats(node.name, "map")
        for port in names:
            mask = pc.fill_null(pc.equal(route, port), False)
            flags = mask.to_numpy(zero_copy_only=False)
            part = kept.filter(mask)
            st.outputs[port] = st.outputs.get(port, 0) + part.num_rows
            outs.emit(StreamRef(node.name, port), part, kept_pos[flags])
        return None

    def run(self, unreadable: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        plan, task = self.plan, self.task
        errors = ErrorSink(plan.settings.on_error, task.rel, unreadable)
        chain = [plan.graph.node(n) for n in self.unit.chain]
        try:
            for table, pos in self._entry(errors, unreadable is not None):
                batch: Batch | None = (table, pos)
                for node in chain:
                    assert batch is not None  # a stage with named outputs ends its unit
                    batch = self._step(node, *batch, lambda t, c, n=node: n.stage.process(t, c), "map")
                batches.report(task.index, table.num_rows)
                if self.outs.writers or self.outs.sink_writers:
                    checkpoint("shard_write")
        except _UndeclaredChange:  # the stage rewrote a column it does not declare: keep its stream whole
            self.outs.abort()
            return _UnitRun(plan, self.unit.name, task, deltas=False).run(unreadable)
        except BaseException:
            self.outs.abort()
            raise
        self.outs.close()
        return self._report(errors, unreadable)

    def _report(self, errors: ErrorSink, unreadable: list[dict[str, Any]] | None) -> dict[str, Any]:
        stats = self.stats.by_name
        for name, ctx in [*self.ctxs.items(), *((g + ":summarize", c) for g, c in self.outs.summarize_ctxs.items())]:
            if name in stats:
                stats[name].counters.update(ctx.counters)
        if unreadable:
            stats[READ_STAGE] = StageStats(READ_STAGE, "read", counters={"files_errored": len(unreadable)})
        elif READ_STAGE in stats:  # rows the reader itself could not parse (bad JSON, invalid UTF-8)
            reader_errors = errors.n - stats[READ_STAGE].errored
            stats[READ_STAGE].docs_in += reader_errors
            stats[READ_STAGE].errored += reader_errors
        report = {"unit": self.unit.name, "task": self.task.index,
                  "stats": [st.to_dict() for st in stats.values()],
                  "errors": errors.errors, "sinks": self.outs.sinks}
        self.plan.store.write_marker(self.plan.store.done_marker(self.unit.name, self.task.index), report)
        checkpoint("task_done")
        return report


def _at_least_one(batches: Iterator[Any], empty: Any) -> Iterator[Any]:
    """`batches`, or the one `empty` batch when there are none (so every output gets its columns)."""
    seen = False
    for b in batches:
        seen = True
        yield b
    if not seen:
        yield empty
