"""One unit of work: one task through one pass (segment) of the graph.

A pass reads the task's rows (the input file for the first pass, the previous pass's rows after
that, or, for a reshaping stage, what the stage builds), runs the read checks (first pass), the
fused stages batch by batch with each kind's accounting, a global stage's summarize, and writes
the task's rows, partial and rejects atomically, then its done marker. An empty task is one
zero-row batch through the same loop, so its shard has the columns of the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import AccountingError, InputError
from curate.io import read as reader
from curate.pipeline.dag import Graph, Node, Segment
from curate.pipeline.faults import checkpoint
from curate.pipeline.settings import RunSettings
from curate.pipeline.stage import ReshapingStage, TaskContext
from curate.pipeline.stats import StageStats
from curate.pipeline.workstore import ShardWriter, WorkStore, begin_run

READ_STAGE = "read"


@dataclass
class RunPlan:
    """Everything a worker needs to run one (segment, task): picklable, sent to executors."""

    graph: Graph
    segments: list[Segment]
    tasks: list[reader.Task]
    schema: pa.Schema
    settings: RunSettings
    store: WorkStore

    def node_store(self, node: Node) -> Any:
        """The node's corner of the work store; a global node's apply reads the pass before it."""
        seg = next((s.index for s in self.segments if s.summarize is node), None)
        return self.store.stage(node.name, input_seg=seg)

    def output_of(self, seg: int, task: int) -> str:
        """Where the rows of `task` leaving pass `seg` go: the final shard after the last pass."""
        if seg == len(self.segments) - 1:
            return self.store.shard(task)
        return self.store.segment_rows(seg, task)

    def context(self, node: Node, task: reader.Task) -> TaskContext:
        return TaskContext(task_index=task.index, n_tasks=len(self.tasks), source=task.label,
                           seed=self.settings.seed, store=self.node_store(node))


class ErrorSink:
    """Applies the error policy to bad rows: raise (fail) or record (skip)."""

    def __init__(self, policy: str, file: str, preset: list[dict[str, Any]] | None = None):
        self.policy, self.file = policy, file
        self.errors: list[dict[str, Any]] = list(preset or [])
        self.n = 0

    def __call__(self, row: int | None, reason: str, message: str) -> None:
        self.n += 1
        if self.policy == "fail":
            raise InputError(message, file=self.file, row=row, reason=reason)
        self.errors.append({"file": self.file, "row": row, "reason": reason, "message": message})


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or schema.TEXT not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table.column(schema.TEXT))).as_py() or 0)


def split_rejected(table: pa.Table) -> tuple[pa.Table, pa.Table | None, dict[str, int]]:
    """Split a stage's output into kept rows and rows it marked with a reject reason."""
    if schema.REJECT_REASON not in table.column_names:
        return table, None, {}
    reasons = table.column(schema.REJECT_REASON)
    if reasons.null_count == len(reasons):  # the common case: nothing rejected
        return table.drop_columns([schema.REJECT_REASON]), None, {}
    mask = pc.fill_null(pc.greater(pc.utf8_length(reasons), 0), False)
    kept = table.filter(pc.invert(mask)).drop_columns([schema.REJECT_REASON])
    if kept.num_rows == table.num_rows:
        return kept, None, {}
    rejected = table.filter(mask)
    counts = {d["values"]: d["counts"] for d in pc.value_counts(rejected.column(schema.REJECT_REASON)).to_pylist()}
    return kept, rejected, counts


class Rejects:
    """Lazily opened `_rejected/<stage>/part-NNNNN.parquet` writers of one task."""

    def __init__(self, plan: RunPlan, task: int):
        self.plan, self.task, self.writers = plan, task, {}

    def write(self, node_name: str, table: pa.Table | None) -> None:
        if table is None or not self.plan.settings.keep_rejected or table.num_rows == 0:
            return
        if node_name not in self.writers:
            self.writers[node_name] = self.plan.store.files.writer(self.plan.store.rejected(node_name, self.task))
        stage_col = pa.array([node_name] * table.num_rows, pa.string())
        self.writers[node_name].write(table.append_column(schema.REJECT_STAGE, stage_col))

    def close(self) -> None:
        for w in self.writers.values():
            w.close()

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


class _Stats:
    """Per-stage stats of one task, in the order stages first report."""

    def __init__(self) -> None:
        self.by_name: dict[str, StageStats] = {}

    def __call__(self, name: str, kind: str) -> StageStats:
        if name not in self.by_name:
            self.by_name[name] = StageStats(stage=name, kind=kind)
        return self.by_name[name]

    def record(self, st: StageStats, kept: pa.Table, counts: dict[str, int]) -> None:
        st.docs_out += kept.num_rows
        st.bytes_out += text_bytes(kept)
        for reason, n in counts.items():
            st.add_rejected(reason, n)


def validate_read(table: pa.Table, settings: RunSettings, dups: dict[int, tuple[str, int]], errors: ErrorSink,
                  stats: StageStats) -> pa.Table:
    """The implicit first step: null ids and duplicate ids (`dups`: row -> where the id was first
    seen) are errors; empty or null text and documents over max_doc_bytes are rejected with a reason."""
    rows = table.column(reader.ROW).to_numpy()
    ids = table.column(schema.ID)
    null_ids = pc.is_null(ids).to_numpy(zero_copy_only=False)
    bad = null_ids | np.isin(rows, np.fromiter(dups, np.int64, len(dups))) if dups else null_ids
    if bad.any():
        for r, is_null in zip(rows[bad], null_ids[bad]):
            if is_null:
                errors(int(r), "null_id", "the id is null")
            else:
                first_file, first_row = dups[int(r)]
                errors(int(r), "duplicate_id", f"duplicate id (first seen in {first_file} row {first_row})")
        table = table.filter(pa.array(~bad))
        stats.errored += int(bad.sum())
    text = table.column(schema.TEXT)
    # whitespace only (or nothing): an anchored regex stops at the first other character
    empty = pc.fill_null(pc.match_substring_regex(text, r"^[\s\p{Z}]*$"), True)
    too_large = pc.fill_null(pc.greater(pc.binary_length(text), settings.max_doc_bytes), False)
    reason = pc.if_else(empty, pa.scalar(schema.REASON_EMPTY_TEXT),
                        pc.if_else(too_large, pa.scalar(schema.REASON_TOO_LARGE), pa.scalar(None, pa.string())))
    if schema.REJECT_REASON in table.column_names:  # a reader's own reason (a WARC record that is no page) first
        reason = pc.coalesce(table.column(schema.REJECT_REASON), reason)
        table = table.drop_columns([schema.REJECT_REASON])
    return table.append_column(schema.REJECT_REASON, reason).drop_columns([reader.ROW])


def _duplicate_rows(plan: RunPlan, task: int) -> dict[int, tuple[str, int]]:
    """This task's rows whose id came earlier in the input: row -> (file, row) of the first."""
    path = plan.store.ids("dups", task)
    if not plan.store.files.exists(path):
        return {}
    t = plan.store.files.read_table(path)
    return {r: (f, fr) for r, f, fr in zip(t.column("row").to_pylist(), t.column("first_file").to_pylist(),
                                            t.column("first_row").to_pylist())}


def run_segment_task(plan: RunPlan, seg_index: int, task_index: int,
                     file_errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run one task through one pass; write its outputs atomically, then its done marker.

    `file_errors` (under --on-error skip) are errors found for the task's file before the run:
    the task then reads nothing and reports them.
    """
    checkpoint("task_start")
    begin_run(plan.store.run_id, plan.store.storage)
    task = plan.tasks[task_index]
    try:
        return _TaskRun(plan, seg_index, task).run(unreadable=file_errors)
    except InputError as exc:
        # a file that breaks mid-way under --on-error skip: the whole task is reported, none of it kept
        if seg_index != 0 or plan.settings.on_error == "fail" or exc.row is not None:
            raise
        reason = exc.reason if exc.reason != "bad_input" else "unreadable_file"
        return _TaskRun(plan, seg_index, task).run(
            unreadable=[{"file": task.rel, "row": None, "reason": reason, "message": exc.detail}])


class _TaskRun:
    def __init__(self, plan: RunPlan, seg_index: int, task: reader.Task) -> None:
        self.plan, self.seg_index, self.task = plan, seg_index, task
        self.seg = plan.segments[seg_index]
        self.stats = _Stats()
        self.ctxs = {n.name: plan.context(n, task) for n in self.seg.nodes + [self.seg.summarize] if n is not None}

    def _source(self, errors: ErrorSink, unreadable: bool) -> Iterator[pa.Table]:
        """The task's rows entering this pass; always at least one (possibly empty) batch."""
        plan, seen = self.plan, False
        if self.seg_index == 0:
            batches = iter(()) if unreadable else reader.read_task(
                self.task, plan.schema, plan.settings.columns, plan.settings.batch_rows, on_row_error=errors)
            empty = plan.schema.append(pa.field(reader.ROW, pa.int64())).empty_table()
        else:
            pf = plan.store.files.parquet_file(plan.store.segment_rows(self.seg_index - 1, self.task.index))
            batches = (pa.Table.from_batches([b]) for b in
                       pf.iter_batches(batch_size=plan.settings.batch_rows, use_threads=False))
            empty = pf.schema_arrow.empty_table()
        for table in batches:
            seen = True
            yield table
        if not seen:
            yield empty

    def _reshaped(self, node: Node) -> Iterator[pa.Table]:
        """A reshaping stage's output for this task; its rejected rows keep their reason."""
        st = self.stats(node.name, "global")
        st.docs_in += self.plan.store.files.num_rows(self.plan.store.segment_rows(self.seg_index - 1,
                                                                                   self.task.index))
        yielded = False
        for table in node.stage.apply_task(self.ctxs[node.name]):
            checkpoint("reshape")
            yielded = True
            yield table
        if not yielded:
            yield self.plan.store.files.parquet_file(
                self.plan.store.segment_rows(self.seg_index - 1, self.task.index)).schema_arrow.empty_table()

    def run(self, unreadable: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        plan, seg, task = self.plan, self.seg, self.task
        errors = ErrorSink(plan.settings.on_error, task.rel, unreadable)
        files = plan.store.files
        out = files.writer(plan.output_of(self.seg_index, task.index))
        partial: ShardWriter | None = None
        if seg.summarize is not None:
            partial = files.writer(plan.node_store(seg.summarize).partial(task.index))
        rejects = Rejects(plan, task.index)
        reshaping = seg.apply is not None and isinstance(seg.apply.stage, ReshapingStage)
        nodes = seg.maps if reshaping else seg.nodes
        try:
            batches = self._reshaped(seg.apply) if reshaping else self._source(errors, unreadable is not None)
            dup_rows = _duplicate_rows(plan, task.index) if self.seg_index == 0 else None
            empty_schema = None
            for table in batches:
                table = self._pass(table, nodes, reshaping, dup_rows, errors, rejects, partial)
                empty_schema = table.schema
                out.write(table)
                if out.rows:
                    checkpoint("shard_write")
        except BaseException:
            out.abort()
            if partial is not None:
                partial.abort()
            rejects.abort()
            raise
        out.close(empty_schema)
        if partial is not None:
            partial.close()
        rejects.close()
        return self._report(errors, unreadable)

    def _pass(self, table: pa.Table, nodes: list[Node], reshaping: bool, dup_rows: dict[int, tuple[str, int]] | None,
              errors: ErrorSink, rejects: Rejects, partial: ShardWriter | None) -> pa.Table:
        """One batch through the read checks, the fused stages and the summarize step."""
        stat = self.stats
        if reshaping:
            assert self.seg.apply is not None
            kept, rejected, counts = split_rejected(table)
            stat.record(stat(self.seg.apply.name, "global"), kept, counts)
            rejects.write(self.seg.apply.name, rejected)
            table = kept
        if dup_rows is not None:
            rs = stat(READ_STAGE, "read")
            n_in, b_in, t0 = table.num_rows, text_bytes(table), time.perf_counter()
            table, rejected, counts = split_rejected(validate_read(table, self.plan.settings, dup_rows, errors, rs))
            rs.docs_in += n_in
            rs.bytes_in += b_in
            stat.record(rs, table, counts)
            rs.seconds += time.perf_counter() - t0
            rejects.write(READ_STAGE, rejected)
        for node in nodes:
            ctx = self.ctxs[node.name]
            st = stat(node.name, "global" if node.is_global else "map")
            n_in = table.num_rows
            st.docs_in += n_in
            st.bytes_in += text_bytes(table)
            t0 = time.perf_counter()
            result = node.stage.apply(table, ctx) if node.is_global else node.stage.process(table, ctx)
            st.seconds += time.perf_counter() - t0
            ctx.row_offset += n_in
            table, rejected, counts = split_rejected(result)
            n_out = table.num_rows + (rejected.num_rows if rejected is not None else 0)
            if n_out != n_in:
                raise AccountingError(f"stage '{node.name}' returned {n_out} rows for {n_in} input rows in "
                                      f"{self.task.label}; stages must mark rows with reject_reason, never drop them")
            stat.record(st, table, counts)
            rejects.write(node.name, rejected)
        if self.seg.summarize is not None:
            ctx = self.ctxs[self.seg.summarize.name]
            t0 = time.perf_counter()
            part = self.seg.summarize.stage.summarize(table, ctx)
            stat(self.seg.summarize.name + ":summarize", "summarize").seconds += time.perf_counter() - t0
            ctx.row_offset += table.num_rows
            if part is not None:
                assert partial is not None
                partial.write(part)
        return table

    def _report(self, errors: ErrorSink, unreadable: list[dict[str, Any]] | None) -> dict[str, Any]:
        stats = self.stats.by_name
        for name, st in stats.items():
            if name in self.ctxs:
                st.counters.update(self.ctxs[name].counters)
        if unreadable:
            stats[READ_STAGE] = StageStats(READ_STAGE, "read", counters={"files_errored": len(unreadable)})
        elif READ_STAGE in stats:  # rows the reader itself could not parse (bad JSON, invalid UTF-8)
            reader_errors = errors.n - stats[READ_STAGE].errored
            stats[READ_STAGE].docs_in += reader_errors
            stats[READ_STAGE].errored += reader_errors
        report = {"segment": self.seg_index, "task": self.task.index,
                  "stats": [st.to_dict() for st in stats.values()],
                  "errors": errors.errors}
        self.plan.store.files.write_marker(self.plan.store.done_marker(self.seg_index, self.task.index), report)
        checkpoint("task_done")
        return report
