"""Run a pipeline graph over shard tasks: the executor-independent orchestration of a run.

:func:`run_graph` discovers the input and plans its tasks, unifies their schemas (each file's read
by a worker), checks the graph against them, claims OUTPUT, writes the run manifest (the input
files' content hashes computed by the workers too), compiles the kernels the run needs,
then for each pass asks the executor to run :func:`curate.pipeline.task.run_unit_task` over every
(unit, task) of the pass not yet done (see curate.pipeline.passes; the first pass is the built-in
duplicate-id check's) and runs the combines the pass completes, and finally merges the stats,
checks every node's accounting and writes the stats, the errors and ``_SUCCESS`` (curate.store.layout).
Every completed unit of work leaves a marker in the work store, so ``--resume`` skips it. The
runner names no stage, no format and no executor: what varies lives behind their protocols.
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path

import pyarrow as pa

from curate import schema
from curate.errors import ConfigError, InputError, WorkerLost
from curate.faults import checkpoint
from curate.io import read as reader
from curate.kernels import warm_up
from curate.pipeline.graph import READ_NODE, Graph
from curate.pipeline.id_check import ID_NODE, DuplicateId, mark_settled, settle, settled_tasks
from curate.pipeline.input_rows import InputRows, failed_rows, rereads_input
from curate.pipeline.input_schema import read_schemas
from curate.pipeline.manifest import check_unchanged, fingerprint, open_manifest
from curate.pipeline.ownership import Lease, claim
from curate.pipeline.passes import IDS, READ, STREAMS, Unit, schedule
from curate.pipeline.results import RunResult, check_max_errors, run_stats
from curate.pipeline.run import Run
from curate.pipeline.stage import CombineContext
from curate.pipeline.task import RunPlan, run_unit_task
from curate.pipeline.unfinished import schedule_record
from curate.pipeline.validate import check_columns, check_files, unread_outputs
from curate.store.cache import begin_run
from curate.store.hashes import prime_hashes
from curate.store.layout import top_names
from curate.store.storage import parse

__all__ = ["Run", "RunPlan", "RunResult", "run_graph"]


def run_graph(graph: Graph, input_path: str | Path, run: Run) -> RunResult:
    """Run `graph` over the shards in `input_path` as `run` says; see the module docstring."""
    run.storage.check(input_path)  # a bad URI or a missing extra: one line before any work
    # absolute paths or URIs: workers (a process pool, Ray on other nodes) need not share our cwd
    input_path = parse(input_path).uri
    if run.store.in_memory and not run.executor.in_process:
        raise ConfigError(f"{run.store.display} lives in this process's memory, which worker processes do not see: "
                          "run with --workers 1 on the local executor")
    graph.check_complete()
    check_files(graph, run.storage)
    plan, n_files = plan_run(graph, input_path, run)
    with claim(run.store, input_path, run.resume, run.overwrite, top_names(list(graph.sinks)), plan.tasks) as lease:
        prime_hashes([t.path for t in plan.tasks], run.settings.storage,  # read by the workers
                     functools.partial(run.executor.map, point="input_map"))
        lease.name_run(open_manifest(run.store, fingerprint(graph, plan.tasks, run.settings)))
        run.store.files.write_json(run.store.schedule_file, schedule_record(plan, unit_label))
        run.logger.info("%d task(s) from %d file(s); %d pass(es); %d worker(s)", len(plan.tasks), n_files,
                        plan.schedule.passes, run.executor.workers)
        # before the pool starts: its workers load the kernels instead of each compiling them
        warm_up([*(n.stage for n in graph.nodes), *{t.format.name: t.format for t in plan.tasks}.values()],
                text_type(plan.schema))
        if run.progress is not None:
            run.progress.start_run(plan.schedule.passes, plan.tasks)
        try:
            with run.progress.listening() if run.progress is not None else contextlib.nullcontext():
                for level in range(plan.schedule.passes):
                    run_pass(plan, level, run)
                    if level == plan.schedule.unit(READ_NODE).level and settle_ids(plan, run):
                        run_pass(plan, level, run)  # the read again where the id check's duplicates changed
                    lease.check()
                    for name in plan.schedule.combines_after(level):
                        run.reports.combines[name] = combine(plan, name, run)
                        lease.check()
        finally:
            if run.progress is not None:
                run.progress.close()
        return finish(plan, run, lease)


def plan_run(graph: Graph, input_path: str, run: Run) -> tuple[RunPlan, int]:
    """The run's plan (tasks, unified schema, schedule) and the number of input files. Problems
    with input entries and files are raised (fail) or recorded in the run's reports (skip);
    nothing under OUTPUT is touched yet."""
    settings, reports = run.settings, run.reports

    def entry_problem(rel: str, reason: str, message: str) -> None:
        if settings.on_error == "fail":
            raise InputError(message, file=rel, reason=reason)
        reports.entry_errors.append({"file": rel, "row": None, "reason": reason, "message": message})

    files = reader.discover(input_path, entry_problem, settings.strict_inputs, run.logger.warning, run.storage)
    tasks = reader.plan_tasks(files, settings.target_task_bytes, run.storage, settings.columns)
    unified, reports.file_errors = read_schemas(tasks, settings, run.executor)
    if not unified.names:
        raise reader.nothing_readable("no readable input shard", str(input_path), reports.file_errors)
    check_columns(graph, set(unified.names))  # before the output is touched
    for warning in unread_outputs(graph):
        run.logger.warning("%s", warning)
    rereads = rereads_input(tasks, run.store.files.is_local)
    plan = RunPlan(graph, schedule(graph, rereads), tasks, unified, settings, run.store,
                   InputRows.start(tasks, unified, settings, run.store) if rereads else None)
    return plan, len(files)


def run_pass(plan: RunPlan, level: int, run: Run) -> None:
    """Run every (unit, task) of pass `level` that has no done marker yet (their reports are read)."""
    reports, bad_files = run.reports, run.reports.bad_files
    units = plan.schedule.in_pass(level)
    todo = []
    for unit in units:
        finished = plan.store.accepted_tasks(unit.name)
        for t in plan.tasks:
            done = finished.get(t.index)
            if done is not None:
                reports.units[(unit.name, t.index)] = done
            elif unit.entry.kind == READ and t.rel in bad_files:
                todo.append((plan, unit.name, t.index, [e for e in reports.file_errors if e["file"] == t.rel]))
            elif unit.entry.kind == IDS and t.rel in bad_files:
                todo.append((plan, unit.name, t.index, []))  # no ids: the read unit reports the file
            else:
                todo.append((plan, unit.name, t.index))
    label = "; ".join(unit_label(plan, u) for u in units)
    n_passes = plan.schedule.passes
    if not todo:
        if run.resume:
            run.logger.info("pass %d/%d: %s (done, skipped)", level + 1, n_passes, label)
        return
    run.logger.info("pass %d/%d: %s (%d task(s))", level + 1, n_passes, label, len(todo))
    if run.progress is not None:
        run.progress.start(label, todo, plan.tasks)
    try:
        for args, report in run.executor.imap(run_unit_task, todo):
            reports.units[(args[1], args[2])] = report
            if run.progress is not None:
                run.progress.advance(report)
            check_max_errors(run, [e for key in reports.ordered_keys() for e in reports.units[key]["errors"]],
                             final=False)
    except WorkerLost as exc:
        running = ", ".join(f"task {a[2]} ({plan.tasks[a[2]].label})" for a in exc.items[:4]) or "a task"
        raise WorkerLost(f"{exc} in pass {level + 1} while running {running}; the finished tasks are kept: "
                         "run the same command with --resume to continue") from None
    if run.progress is not None:
        run.progress.finish()


def combine(plan: RunPlan, name: str, run: Run) -> tuple[float, dict]:
    """Run a global node's combine once (its done marker makes a resumed run skip it); a combine
    that crashed starts over with empty state and scratch."""
    stage = plan.stage(name)
    store = plan.node_store(name)
    done = plan.store.accepted(store.done_marker)
    if done is not None:
        run.logger.info("combine %s: done, skipped", name)
        return 0.0, done.get("summary", {})
    store.reset_state()
    begin_run(plan.store.attempt)
    fan_out = run.executor.map if run.progress is None else run.progress.combine_map(name, run.executor.map)
    ctx = CombineContext(n_tasks=len(plan.tasks), seed=plan.settings.seed, workers=run.executor.workers,
                         map=fan_out, store=store, logger=run.logger)
    t0 = time.perf_counter()
    run.logger.info("combine %s ...", name)
    try:
        stage.combine(ctx)
    except DuplicateId as dup:
        raise dup.as_input_error(plan.tasks) from None
    checkpoint("combine")
    seconds = time.perf_counter() - t0
    plan.store.write_marker(store.done_marker, {"summary": ctx.summary, "seconds": seconds})
    return seconds, ctx.summary


def settle_ids(plan: RunPlan, run: Run) -> list[int]:
    """Under --on-error skip, release the ids that rows failing the read claimed in the id
    pre-pass (curate.pipeline.id_check.settle); the read units of the tasks whose duplicates
    changed lose their done marker, to run again. Returns those tasks."""
    store = plan.node_store(ID_NODE)
    if plan.settings.on_error == "fail" or settled_tasks(store) is not None:
        return []
    failed = {t.index: rows for t in plan.tasks
              if (rows := failed_rows(run.reports.units[(READ_NODE, t.index)]["errors"])) is None or rows}
    if not failed:  # every clean run
        return []
    changed = settle(store, failed)
    for t in changed:
        plan.store.files.delete(plan.store.done_marker(READ_NODE, t))
    mark_settled(store, changed)
    if changed:
        run.logger.info("id check: rows that failed the read had claimed ids; reading %d task(s) again", len(changed))
    return changed


def finish(plan: RunPlan, run: Run, lease: Lease) -> RunResult:
    """Merge the per-task stats, check every node's accounting, write the run's result files
    (``_SUCCESS`` last, once everything before it is durable); none if an input changed during
    the run."""
    store = run.store
    check_unchanged(store, plan.graph, plan.tasks, plan.settings)
    for name, spec in plan.graph.sink_specs.items():
        spec.finish(store.files, store.sink_dir(name), len(plan.tasks))
    stats = run_stats(plan, run)
    errors = run.reports.errors()
    if errors:
        store.files.write_jsonl(store.errors_file, errors)
    store.files.write_json(store.stats_file, stats)
    lease.check()
    store.write_marker(store.success_file)
    if run.settings.clean_work:
        store.clean_work()
    return RunResult(store.display, stats, errors)


def unit_label(plan: RunPlan, unit: Unit) -> str:
    """What a unit does, for the log: its entry, its chain, the summarize steps it feeds."""
    entry = unit.entry
    if entry.kind == IDS:
        names = ["read ids"]
    elif entry.kind == READ:
        names = ["read"]
    elif entry.kind == STREAMS:
        names = [" + ".join(str(r) for r in entry.streams)]
    else:
        names = [f"{entry.node} (apply)"]
    names += unit.chain
    names += [f"{g} (summarize)" for g, u in plan.schedule.summarize_unit.items() if u == unit.name]
    return " -> ".join(names)


def text_type(unified: pa.Schema) -> pa.DataType:
    """The type of the run's text column (the kernels compile for it)."""
    return unified.field(schema.TEXT).type if schema.TEXT in unified.names else pa.string()
