"""Run a pipeline graph over shard tasks: the executor-independent part of a run.

The orchestrator (:func:`run_graph`) plans tasks, writes the run manifest, then for each
segment asks the executor to run :func:`run_segment_task` over every task not yet done,
runs the global stage's combine, and finally merges stats, checks accounting and writes
``_stats.json``, ``_errors.jsonl`` and ``_SUCCESS``. Every completed unit of work leaves a marker
under ``_work/``, so ``--resume`` skips it. Executors only map functions over items.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import __version__, schema
from curate.errors import AccountingError, ConfigError, CurateError, InputError
from curate.io import auto_ids
from curate.io import read as reader
from curate.io.duck import connect, sql_path
from curate.io.write import ShardWriter, write_json, write_jsonl
from curate.pipeline.dag import Graph, Node, Segment
from curate.pipeline.faults import checkpoint
from curate.pipeline.stage import CombineContext, TaskContext, begin_run
from curate.pipeline.stats import StageStats, merge_stats

READ_STAGE = "read"
ID_CHECK = "_ids"
ERROR_POLICIES = ("fail", "skip")
DEFAULT_MAX_DOC_BYTES = 16 << 20


@dataclass
class RunSettings:
    """Run-wide options (CLI flags / pipeline `settings:`)."""

    seed: int = 0
    keep_rejected: bool = False
    on_error: str = "fail"
    max_errors: int | None = None
    max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES
    batch_rows: int = reader.DEFAULT_BATCH_ROWS
    target_task_bytes: int = reader.DEFAULT_TARGET_TASK_BYTES
    columns: reader.ColumnMap = field(default_factory=reader.ColumnMap)

    def __post_init__(self) -> None:
        if self.on_error not in ERROR_POLICIES:
            raise ConfigError(f"--on-error must be one of {', '.join(ERROR_POLICIES)}, got '{self.on_error}'")
        if self.max_doc_bytes <= 0:
            raise ConfigError("--max-doc-bytes must be positive")


@dataclass
class RunPlan:
    """Everything a worker needs to run one (segment, task): picklable, sent to executors."""

    graph: Graph
    segments: list[Segment]
    tasks: list[reader.Task]
    schema: pa.Schema
    settings: RunSettings
    output: Path
    run_id: str = ""  # unique per invocation: scopes the workers' stage caches

    @property
    def work(self) -> Path:
        return self.output / "_work"

    def seg_dir(self, seg: int) -> Path:
        return self.work / f"seg{seg:02d}"

    def node_dir(self, node: Node) -> Path:
        return self.work / "stages" / node.name

    def part(self, directory: Path, task: int) -> Path:
        return directory / f"part-{task:05d}.parquet"

    def done_marker(self, seg: int, task: int) -> Path:
        return self.seg_dir(seg) / "done" / f"part-{task:05d}.json"

    def segment_output(self, seg: int, task: int) -> Path:
        if seg == len(self.segments) - 1:
            return self.part(self.output, task)
        return self.part(self.seg_dir(seg), task)

    def segment_inputs(self, seg: int) -> list[Path]:
        """The kept rows each task carries into segment `seg` (seg > 0)."""
        return [self.part(self.seg_dir(seg - 1), t.index) for t in self.tasks]

    def context(self, node: Node, seg: int, task: reader.Task, counters: dict[str, float]) -> TaskContext:
        return TaskContext(task_index=task.index, n_tasks=len(self.tasks), source=task.label,
                           seed=self.settings.seed, work_dir=self.node_dir(node), output_dir=self.output,
                           counters=counters, input_paths=self.segment_inputs(seg) if seg > 0 else [])


# --------------------------------------------------------------------------- worker side
class _ErrorSink:
    """Applies the error policy to bad rows: raise (fail) or record (skip)."""

    def __init__(self, policy: str, file: str):
        self.policy, self.file, self.errors = policy, file, []
        self.n = 0

    def __call__(self, row: int | None, reason: str, message: str) -> None:
        self.n += 1
        if self.policy == "fail":
            raise InputError(message, file=self.file, row=row, reason=reason)
        self.errors.append({"file": self.file, "row": row, "reason": reason, "message": message})


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or schema.TEXT not in table.column_names:
        return 0
    total = pc.sum(pc.binary_length(table.column(schema.TEXT))).as_py()
    return int(total or 0)


def _split(table: pa.Table) -> tuple[pa.Table, pa.Table | None, dict[str, int]]:
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


class _Rejects:
    """Lazily opened `_rejected/<stage>/part-NNNNN.parquet` writers of one task."""

    def __init__(self, plan: RunPlan, task: int):
        self.plan, self.task, self.writers = plan, task, {}

    def write(self, node_name: str, table: pa.Table) -> None:
        if not self.plan.settings.keep_rejected or table.num_rows == 0:
            return
        if node_name not in self.writers:
            self.writers[node_name] = ShardWriter(self.plan.part(self.plan.output / "_rejected" / node_name, self.task))
        stage_col = pa.array([node_name] * table.num_rows, pa.string())
        self.writers[node_name].write(table.append_column(schema.REJECT_STAGE, stage_col))

    def close(self) -> None:
        for w in self.writers.values():
            w.close()

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


def _validate_read(table: pa.Table, plan: RunPlan, dup_rows: set[int], errors: _ErrorSink,
                   stats: StageStats) -> pa.Table:
    """The implicit first step: null ids and duplicate ids are errors; empty or null text and
    documents over max_doc_bytes are rejected with a reason."""
    rows = table.column(reader.ROW).to_numpy()
    ids = table.column(schema.ID)
    bad = pc.is_null(ids).to_numpy(zero_copy_only=False)
    if dup_rows:
        bad = bad | np.isin(rows, np.fromiter(dup_rows, dtype=np.int64))
    if bad.any():
        null_ids = pc.is_null(ids).to_numpy(zero_copy_only=False)
        for r, is_null in zip(rows[bad], null_ids[bad]):
            if is_null:
                errors(int(r), "null_id", "the id is null")
            else:
                errors(int(r), "duplicate_id", "duplicate id (first seen earlier in the input; see _errors.jsonl)")
        table = table.filter(pa.array(~bad))
        stats.errored += int(bad.sum())
    text = table.column(schema.TEXT)
    # whitespace only (or nothing): an anchored regex stops at the first other character
    empty = pc.fill_null(pc.match_substring_regex(text, r"^[\s\p{Z}]*$"), True)
    too_large = pc.fill_null(pc.greater(pc.binary_length(text), plan.settings.max_doc_bytes), False)
    reason = pc.if_else(empty, pa.scalar(schema.REASON_EMPTY_TEXT),
                        pc.if_else(too_large, pa.scalar(schema.REASON_TOO_LARGE), pa.scalar(None, pa.string())))
    if schema.REJECT_REASON in table.column_names:  # a reader's own reason (a WARC record that is no page) first
        reason = pc.coalesce(table.column(schema.REJECT_REASON), reason)
        table = table.drop_columns([schema.REJECT_REASON])
    return table.append_column(schema.REJECT_REASON, reason)


def _source_batches(plan: RunPlan, seg: int, task: reader.Task, errors: _ErrorSink) -> Iterator[pa.Table]:
    if seg == 0:
        yield from reader.read_task(task, plan.schema, plan.settings.columns, plan.settings.batch_rows,
                                    on_row_error=errors)
    else:
        pf = pq.ParquetFile(plan.segment_inputs(seg)[task.index])
        for batch in pf.iter_batches(batch_size=plan.settings.batch_rows, use_threads=False):
            yield pa.Table.from_batches([batch])
        if pf.metadata.num_rows == 0:
            yield pf.schema_arrow.empty_table()


def _dup_rows(plan: RunPlan, task: int) -> set[int]:
    path = plan.part(plan.work / ID_CHECK / "dups", task)
    if not path.exists():
        return set()
    return set(pq.read_table(path, columns=["row"]).column("row").to_pylist())


def run_segment_task(plan: RunPlan, seg_index: int, task_index: int) -> dict[str, Any]:
    """Run one task through one segment; write its outputs atomically, then its done marker."""
    checkpoint("task_start")
    begin_run(plan.run_id)
    seg = plan.segments[seg_index]
    task = plan.tasks[task_index]
    errors = _ErrorSink(plan.settings.on_error, task.rel)
    counters: dict[Any, dict[str, float]] = {}
    stats: dict[str, StageStats] = {}
    ctxs: dict[str, TaskContext] = {}
    for node in seg.nodes + ([seg.summarize] if seg.summarize else []):
        counters[node.name] = {}
        ctxs[node.name] = plan.context(node, seg_index, task, counters[node.name])
    order: list[str] = []

    def stat(name: str, kind: str) -> StageStats:
        if name not in stats:
            stats[name] = StageStats(stage=name, kind=kind)
            order.append(name)
        return stats[name]

    out = ShardWriter(plan.segment_output(seg_index, task.index))
    partial = ShardWriter(plan.part(plan.node_dir(seg.summarize) / "partials", task.index)) if seg.summarize else None
    rejects = _Rejects(plan, task.index)
    dup_rows = _dup_rows(plan, task.index) if seg_index == 0 else set()
    empty_schema: pa.Schema | None = None
    saw_batch = False
    try:
        if seg.apply is not None and getattr(seg.apply.stage, "reshapes", False):
            batches = _reshaped(plan, seg_index, seg.apply, task, ctxs[seg.apply.name], stat, rejects)
            first_nodes = seg.maps
        else:
            batches = _source_batches(plan, seg_index, task, errors)
            first_nodes = seg.nodes
        for table in batches:
            saw_batch = True
            if seg_index == 0 and reader.ROW in table.column_names:
                rs = stat(READ_STAGE, "read")
                n_in, b_in = table.num_rows, text_bytes(table)
                t0 = time.perf_counter()
                table = _validate_read(table, plan, dup_rows, errors, rs)
                table = table.drop_columns([reader.ROW])
                table, rejected, counts = _split(table)
                rs.docs_in += n_in
                rs.bytes_in += b_in
                _account(rs, table, rejected, counts, task, READ_STAGE)
                rs.seconds += time.perf_counter() - t0
                if rejected is not None:
                    rejects.write(READ_STAGE, rejected)
            for node in first_nodes:
                ctx = ctxs[node.name]
                st = stat(node.name, "global" if node.is_global else "map")
                n_in = table.num_rows
                st.docs_in += n_in
                st.bytes_in += text_bytes(table)
                t0 = time.perf_counter()
                result = node.stage.apply(table, ctx) if node.is_global else node.stage.process(table, ctx)
                st.seconds += time.perf_counter() - t0
                ctx.row_offset += n_in
                table, rejected, counts = _split(result)
                _account(st, table, rejected, counts, task, node.name, expected_in=n_in)
                if rejected is not None:
                    rejects.write(node.name, rejected)
            if seg.summarize is not None:
                ctx = ctxs[seg.summarize.name]
                t0 = time.perf_counter()
                part = seg.summarize.stage.summarize(table, ctx)
                stat(seg.summarize.name + ":summarize", "summarize").seconds += time.perf_counter() - t0
                ctx.row_offset += table.num_rows
                if part is not None:
                    partial.write(part)
            empty_schema = table.schema
            out.write(table)
            if out.rows:
                checkpoint("shard_write")
    except InputError as exc:
        out.abort()
        if partial is not None:
            partial.abort()
        rejects.abort()
        if seg_index != 0 or plan.settings.on_error == "fail" or exc.row is not None:
            raise
        # a file that breaks mid-way under --on-error skip: the whole task is reported, none of it kept
        return _run_empty(plan, seg_index, task_index, [
            {"file": task.rel, "row": None, "reason": exc.reason if exc.reason != "bad_input" else "unreadable_file",
             "message": exc.detail}])
    except BaseException:
        out.abort()
        if partial is not None:
            partial.abort()
        rejects.abort()
        raise
    if not saw_batch:
        # An empty task still runs its stages once on zero rows, so its shard has the right columns.
        return _run_empty(plan, seg_index, task_index, errors.errors)
    out.close(empty_schema)
    if partial is not None:
        partial.close()
    rejects.close()
    for name, st in stats.items():
        if name in counters:
            st.counters.update(counters[name])
    if READ_STAGE in stats:  # rows the reader itself could not parse (bad JSON, invalid UTF-8)
        reader_errors = errors.n - stats[READ_STAGE].errored
        stats[READ_STAGE].docs_in += reader_errors
        stats[READ_STAGE].errored += reader_errors
    report = {"segment": seg_index, "task": task.index, "stats": [stats[n].to_dict() for n in order],
              "errors": errors.errors}
    write_json(plan.done_marker(seg_index, task.index), report)
    checkpoint("task_done")
    return report


def _run_empty(plan: RunPlan, seg_index: int, task_index: int,
               errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Write the zero-row shard (and partial) of a task that has no rows (or an unreadable file)."""
    begin_run(plan.run_id)
    seg = plan.segments[seg_index]
    task = plan.tasks[task_index]
    if seg_index == 0:
        table = plan.schema.empty_table()
    else:
        table = pq.read_schema(plan.segment_inputs(seg_index)[task_index]).empty_table()
    counters: dict[str, float] = {}
    for node in seg.nodes:
        if node.is_global and getattr(node.stage, "reshapes", False):
            continue
        ctx = plan.context(node, seg_index, task, counters)
        result = node.stage.apply(table, ctx) if node.is_global else node.stage.process(table, ctx)
        table = _split(result)[0]
    out = ShardWriter(plan.segment_output(seg_index, task.index))
    out.close(table.schema)
    if seg.summarize is not None:
        ctx = plan.context(seg.summarize, seg_index, task, counters)
        part = seg.summarize.stage.summarize(table, ctx)
        w = ShardWriter(plan.part(plan.node_dir(seg.summarize) / "partials", task.index))
        w.close(part.schema if part is not None else None)
    files_errored = sum(1 for e in errors or [] if e["row"] is None)
    stats = [StageStats(READ_STAGE, "read", counters={"files_errored": files_errored}).to_dict()] if files_errored else []
    report = {"segment": seg_index, "task": task.index, "stats": stats, "errors": list(errors or [])}
    write_json(plan.done_marker(seg_index, task.index), report)
    return report


def _reshaped(plan: RunPlan, seg_index: int, node: Node, task: reader.Task, ctx: TaskContext,
              stat: Callable[[str, str], StageStats], rejects: _Rejects) -> Iterator[pa.Table]:
    """A reshaping global stage (the sampler) builds its task's output from the combined state,
    gathering rows from any input task, and returns the task's own rows it does not use with a
    reject_reason. docs_out counts rows written (copies included), so its accounting is checked
    over the whole run: docs in = distinct documents written + rejected (see run_graph)."""
    st = stat(node.name, "global")
    st.docs_in += pq.ParquetFile(plan.segment_inputs(seg_index)[task.index]).metadata.num_rows
    t0 = time.perf_counter()
    for table in node.stage.apply_task(ctx):
        checkpoint("reshape")
        kept, rejected, counts = _split(table)
        st.docs_out += kept.num_rows
        st.bytes_out += text_bytes(kept)
        for reason, n in counts.items():
            st.add_rejected(reason, n)
        if rejected is not None:
            rejects.write(node.name, rejected)
        yield kept
    st.seconds += time.perf_counter() - t0


def _account(st: StageStats, kept: pa.Table, rejected: pa.Table | None, counts: dict[str, int],
             task: reader.Task, name: str, expected_in: int | None = None) -> None:
    st.docs_out += kept.num_rows
    st.bytes_out += text_bytes(kept)
    for reason, n in counts.items():
        st.add_rejected(reason, n)
    if expected_in is not None:
        n_out = kept.num_rows + (rejected.num_rows if rejected is not None else 0)
        if n_out != expected_in:
            raise AccountingError(f"stage '{name}' returned {n_out} rows for {expected_in} input rows in "
                                  f"{task.label}; stages must mark rows with reject_reason, never drop them")


# --------------------------------------------------------------------------- id check
def id_check_task(plan: RunPlan, task_index: int) -> str:
    """Pre-pass: write (id, row) of every readable row of a task, for the duplicate-id check."""
    task = plan.tasks[task_index]
    path = plan.part(plan.work / ID_CHECK / "ids", task.index)
    w = ShardWriter(path)
    try:
        for table in reader.read_task(task, plan.schema, plan.settings.columns, 65536,
                                      on_row_error=lambda *a: None, project=[schema.ID]):
            w.write(pa.table({"id": table.column(schema.ID), "task": pa.array(np.full(table.num_rows, task.index,
                              dtype=np.int32)), "row": table.column(reader.ROW)}))
    except InputError:
        w.abort()  # the error is reported (under the policy) when the task itself is read
        w = ShardWriter(path)
    w.close(pa.schema([("id", pa.string()), ("task", pa.int32()), ("row", pa.int64())]))
    return str(path)


def find_duplicate_ids(plan: RunPlan, workers: int = 1) -> list[dict[str, Any]]:
    """Every occurrence of an id after its first (in task, row order), with where it was first seen."""
    ids_glob = sql_path(plan.work / ID_CHECK / "ids" / "part-*.parquet")
    con = connect(plan.work / ID_CHECK / "duckdb_tmp", threads=workers)
    rows = con.execute(f"""
        SELECT id, task, row, first_task, first_row FROM (
            SELECT id, task, row,
                   first_value(task) OVER w AS first_task, first_value(row) OVER w AS first_row,
                   row_number() OVER w AS n
            FROM read_parquet('{ids_glob}') WHERE id IS NOT NULL
            WINDOW w AS (PARTITION BY id ORDER BY task, row)
        ) WHERE n > 1 ORDER BY task, row
    """).fetchall()
    con.close()
    return [{"id": r[0], "task": r[1], "row": r[2], "first_task": r[3], "first_row": r[4]} for r in rows]


# --------------------------------------------------------------------------- orchestration
@dataclass
class RunResult:
    output: Path
    stats: dict[str, Any]
    errors: list[dict[str, Any]]

    @property
    def stages(self) -> list[dict[str, Any]]:
        return self.stats["stages"]


class Executor:
    """What the runner needs from an executor: run functions over items, yielding results."""

    workers: int = 1

    def imap(self, fn: Callable[..., Any], items: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        raise NotImplementedError

    def map(self, fn: Callable[..., Any], items: list[Any]) -> list[Any]:
        """Ordered map of a one-argument function (for a combine step's fan-out)."""
        results: dict[int, Any] = {}
        for args, result in self.imap(_indexed_call, [(fn, i, x) for i, x in enumerate(items)]):
            results[args[1]] = result
            checkpoint("combine_map")
        return [results[i] for i in range(len(items))]

    def close(self) -> None:
        pass


def _indexed_call(fn: Callable[[Any], Any], index: int, item: Any) -> Any:
    return fn(item)


def fingerprint(graph: Graph, tasks: list[reader.Task], settings: RunSettings) -> dict[str, Any]:
    """What makes two runs the same run: config, inputs (path, size, mtime) and version."""
    inputs = []
    for rel, path in sorted({(t.rel, t.path) for t in tasks}):
        st = os.stat(path)
        inputs.append([rel, st.st_size, int(st.st_mtime)])
    return {
        "version": __version__,
        "pipeline": graph.describe(),
        "settings": {"seed": settings.seed, "keep_rejected": settings.keep_rejected, "on_error": settings.on_error,
                     "max_errors": settings.max_errors, "max_doc_bytes": settings.max_doc_bytes,
                     "batch_rows": settings.batch_rows, "target_task_bytes": settings.target_task_bytes,
                     "id_column": settings.columns.id, "text_column": settings.columns.text,
                     "csv_delimiter": settings.columns.csv_delimiter},
        "inputs": inputs,
    }


def prepare_output(input_path: Path, output: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber: an existing non-empty output needs --resume or --overwrite."""
    inp, out = input_path.resolve(), output.resolve()
    if out == inp or inp in out.parents:
        raise ConfigError(f"output directory {output} is inside the input directory {input_path}")
    if out.exists() and any(out.iterdir()):
        if overwrite:
            shutil.rmtree(out)
        elif not resume:
            state = "a finished run" if (out / "_SUCCESS").exists() else "files"
            raise ConfigError(f"output directory {output} already holds {state}; pass --resume to continue "
                              "an interrupted run or --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)


def run_graph(graph: Graph, input_path: str | Path, output: str | Path, executor: Executor,
              settings: RunSettings, resume: bool = False, overwrite: bool = False,
              log: Callable[[str], None] | None = None, progress: Any = None) -> RunResult:
    """Run `graph` over the shards in `input_path`, writing `output`; see the module docstring."""
    log = log or (lambda msg: None)
    # absolute paths: workers (a process pool, Ray on other nodes) need not share our cwd
    input_path, output = Path(input_path).absolute(), Path(output).absolute()
    started = time.time()
    graph.check()
    files = reader.discover(input_path)
    prepare_output(input_path, output, resume, overwrite)
    tasks = reader.plan_tasks(files, settings.target_task_bytes)
    schemas = []
    file_errors: list[dict[str, Any]] = []
    seen_files: set[str] = set()
    for t in tasks:
        if t.rel in seen_files:
            continue
        seen_files.add(t.rel)
        try:
            schemas.append((t.rel, reader.file_schema(Path(t.path), t.fmt, t.rel, settings.columns)))
        except InputError as exc:
            if settings.on_error == "fail":
                raise
            file_errors.append({"file": t.rel, "row": None, "reason": "unreadable_file", "message": exc.detail})
    schemas = _drop_unusable_files(schemas, settings, file_errors)
    if not schemas:
        raise InputError("no readable input shard", file=str(input_path))
    unified = reader.unify_schemas(schemas, settings.columns)
    plan = RunPlan(graph, graph.segments(), tasks, unified, settings, output, run_id=uuid.uuid4().hex)
    bad_files = {e["file"] for e in file_errors}

    manifest = fingerprint(graph, tasks, settings)
    manifest_path = plan.work / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old != json.loads(json.dumps(manifest)):
            raise ConfigError(f"{output} holds an interrupted run of a different configuration, input set or "
                              "version; --resume refuses to mix two runs (use --overwrite to start over)")
    else:
        (output / "_SUCCESS").unlink(missing_ok=True)
        write_json(manifest_path, manifest)
    log(f"{len(tasks)} task(s) from {len(files)} file(s); {len(plan.segments)} pass(es); "
        f"{executor.workers} worker(s)")

    errors: list[dict[str, Any]] = []
    # duplicate ids, before any stage runs
    id_marker = plan.work / ID_CHECK / "_DONE"
    if not id_marker.exists():
        todo = [(plan, t.index) for t in tasks if t.rel not in bad_files]
        for _ in executor.imap(id_check_task, todo):
            pass
        dups = find_duplicate_ids(plan, executor.workers)
        if dups and settings.on_error == "fail":
            d = dups[0]
            first = tasks[d["first_task"]].rel
            raise InputError(f"duplicate id '{d['id']}' (first seen in {first} row {d['first_row']}); "
                             f"{len(dups)} duplicate(s) in all", file=tasks[d["task"]].rel, row=d["row"],
                             reason="duplicate_id")
        by_task: dict[int, list[int]] = {}
        for d in dups:
            by_task.setdefault(d["task"], []).append(d["row"])
        for t, rows in by_task.items():
            from curate.io.write import write_table
            write_table(plan.part(plan.work / ID_CHECK / "dups", t), pa.table({"row": pa.array(rows, pa.int64())}))
        write_json(id_marker, {"duplicates": len(dups)})

    reports: dict[tuple[int, int], dict[str, Any]] = {}
    combine_stats: list[StageStats] = []
    for seg in plan.segments:
        todo = []
        for t in tasks:
            marker = plan.done_marker(seg.index, t.index)
            if marker.exists():
                reports[(seg.index, t.index)] = json.loads(marker.read_text())
            elif seg.index == 0 and t.rel in bad_files:
                reports[(seg.index, t.index)] = _run_empty(plan, seg.index, t.index,
                                                           [e for e in file_errors if e["file"] == t.rel])
            else:
                todo.append((plan, seg.index, t.index))
        label = _segment_label(seg)
        if todo:
            log(f"pass {seg.index + 1}/{len(plan.segments)}: {label} ({len(todo)} task(s))")
            if progress is not None:
                progress.start(label, todo, tasks)
            for (_, s, ti), report in executor.imap(run_segment_task, todo):
                reports[(s, ti)] = report
                if progress is not None:
                    progress.advance(report)
                _check_max_errors(settings, errors, reports)
            if progress is not None:
                progress.finish()
        elif resume:
            log(f"pass {seg.index + 1}/{len(plan.segments)}: {label} (done, skipped)")
        if seg.summarize is not None:
            combine_stats.append(_combine(plan, seg, executor, log))

    for key in sorted(reports):
        errors.extend(reports[key]["errors"])
    order = [READ_STAGE] + [n.name for n in graph.nodes]
    per_task = [[StageStats.from_dict(s) for s in reports[k]["stats"]] for k in sorted(reports)]
    merged = merge_stats(per_task, order + [n.name + ":summarize" for n in graph.nodes])
    summarize_time = {s.stage[: -len(":summarize")]: s.seconds for s in merged if s.stage.endswith(":summarize")}
    merged = [s for s in merged if not s.stage.endswith(":summarize")]
    for s in merged:
        if s.stage in summarize_time:
            s.seconds += summarize_time[s.stage]
        for c in combine_stats:
            if c.stage == s.stage:
                s.seconds += c.seconds
                s.summary.update(c.summary)
        if not getattr(_node(graph, s.stage), "reshapes", False):
            s.check()
        elif "docs_sampled" in s.summary and s.docs_in != s.summary["docs_sampled"] + s.rejected_total + s.errored:
            raise AccountingError(f"stage '{s.stage}': docs in {s.docs_in} != documents written "
                                  f"{s.summary['docs_sampled']} + rejected {s.rejected_total} + errored {s.errored}")
    if settings.max_errors is not None and len(errors) > settings.max_errors:
        raise InputError(f"{len(errors)} errors, more than --max-errors {settings.max_errors}; see _errors.jsonl")
    stats = {
        "version": __version__, "pipeline": graph.name, "tasks": len(tasks), "seed": settings.seed,
        "wall_seconds": round(time.time() - started, 3),
        "docs_in": merged[0].docs_in if merged else 0,
        "docs_out": _final_rows(plan),
        "errors": len(errors),
        "stages": [s.to_dict() for s in merged],
    }
    if errors:
        write_jsonl(output / "_errors.jsonl", errors)
    write_json(output / "_stats.json", stats)
    (output / "_SUCCESS").write_text("")
    return RunResult(output, stats, errors)


def _drop_unusable_files(schemas: list[tuple[str, pa.Schema]], settings: RunSettings,
                         file_errors: list[dict[str, Any]]) -> list[tuple[str, pa.Schema]]:
    """Files without the id/text columns, or with a non-string text: an InputError naming the file
    (fail), or reported and left out (skip)."""
    columns = settings.columns
    usable = []
    for rel, sch in schemas:
        problem = None
        for col, flag in ((columns.id, "--id-column"), (columns.text, "--text-column")):
            if col not in sch.names and col != auto_ids.AUTO:  # auto: the reader makes the ids
                problem = f"missing required column '{col}' (use {flag} to map another name)"
                break
        if problem is None and not (schema.is_string_type(sch.field(columns.text).type)
                                    or pa.types.is_null(sch.field(columns.text).type)):
            problem = f"column '{columns.text}' must be a string, found {sch.field(columns.text).type}"
        if problem and settings.on_error == "fail":
            raise InputError(problem, file=rel, reason="bad_schema")
        if problem:
            file_errors.append({"file": rel, "row": None, "reason": "bad_schema", "message": problem})
        else:
            usable.append((rel, sch))
    return usable


def _node(graph: Graph, name: str) -> Any:
    for n in graph.nodes:
        if n.name == name:
            return n.stage
    return None


def _final_rows(plan: RunPlan) -> int:
    return sum(pq.ParquetFile(plan.part(plan.output, t.index)).metadata.num_rows for t in plan.tasks)


def _check_max_errors(settings: RunSettings, errors: list, reports: dict) -> None:
    if settings.max_errors is None:
        return
    n = len(errors) + sum(len(r["errors"]) for r in reports.values())
    if n > settings.max_errors:
        raise InputError(f"more than --max-errors {settings.max_errors} errors ({n} so far); see the messages above")


def _segment_label(seg: Segment) -> str:
    names = [n.name + (" (apply)" if n.is_global else "") for n in seg.nodes]
    if seg.summarize is not None:
        names.append(seg.summarize.name + " (summarize)")
    return " -> ".join(names) or "read -> write"


def _combine(plan: RunPlan, seg: Segment, executor: Executor, log: Callable[[str], None]) -> StageStats:
    node = seg.summarize
    assert node is not None
    work = plan.node_dir(node)
    done = work / "state" / "_DONE"
    st = StageStats(stage=node.name, kind="global")
    if done.exists():
        st.summary = json.loads(done.read_text()).get("summary", {})
        log(f"combine {node.name}: done, skipped")
        return st
    state = work / "state"
    if state.exists():
        shutil.rmtree(state)  # a crashed combine: start it over
    state.mkdir(parents=True)
    ctx = CombineContext(partials=[plan.part(work / "partials", t.index) for t in plan.tasks],
                         n_tasks=len(plan.tasks), seed=plan.settings.seed, work_dir=work, output_dir=plan.output,
                         workers=executor.workers, map=executor.map, log=log,
                         input_paths=plan.segment_inputs(seg.index + 1))
    t0 = time.perf_counter()
    log(f"combine {node.name} ...")
    node.stage.combine(ctx)
    checkpoint("combine")
    st.seconds = time.perf_counter() - t0
    st.summary = ctx.summary
    write_json(done, {"summary": ctx.summary, "seconds": st.seconds})
    return st


__all__ = ["RunPlan", "RunResult", "RunSettings", "Executor", "run_graph", "run_segment_task", "CurateError"]
