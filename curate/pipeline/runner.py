"""Run a pipeline graph over shard tasks: the executor-independent orchestration of a run.

:func:`run_graph` plans tasks, writes the run manifest, runs the duplicate-id pre-pass, then for
each pass asks the executor to run :func:`curate.pipeline.task.run_unit_task` over every (unit,
task) of the pass not yet done (see curate.pipeline.passes) and runs the combines the pass
completes, and finally merges stats, checks each stage's and the graph's accounting and writes
``_stats.json``, ``_errors.jsonl`` and ``_SUCCESS``. Every completed unit of work leaves a marker
in the work store, so ``--resume`` skips it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import __version__, schema
from curate.errors import AccountingError, ConfigError, InputError, WorkerLost
from curate.io import auto_ids
from curate.io import read as reader
from curate.kernels_warmup import warm_up_plan
from curate.pipeline.dag import INPUT_NODE, KEPT, REJECTED, Graph, StreamRef
from curate.pipeline.executor import Executor
from curate.pipeline.faults import checkpoint
from curate.pipeline.ids import check_ids
from curate.pipeline.input_rows import InputRows, rereads_input
from curate.pipeline.ownership import Lease, claim
from curate.pipeline.passes import READ, STREAMS, Unit, schedule
from curate.pipeline.settings import RunSettings
from curate.pipeline.stage import CombineContext
from curate.pipeline.stats import StageStats, merge_stats
from curate.pipeline.task import READ_STAGE, RunPlan, run_unit_task
from curate.pipeline.workstore import WorkStore, begin_run, content_hash
from curate.storage import parse


@dataclass
class RunResult:
    output: str
    stats: dict[str, Any]
    errors: list[dict[str, Any]]

    @property
    def stages(self) -> list[dict[str, Any]]:
        return self.stats["stages"]


def fingerprint(graph: Graph, tasks: list[reader.Task], settings: RunSettings) -> dict[str, Any]:
    """What makes two runs the same run: the version, the graph, the settings, and the content
    (xxh3-128 of every byte) of every input file and of every file a stage reads (models,
    tokenizers, plans, benchmark sets)."""
    storage = settings.storage
    inputs = {rel: content_hash(path, storage) for rel, path in sorted({(t.rel, t.path) for t in tasks})}
    stage_files = {f"{who}: {path}": content_hash(path, storage) for who, paths in graph.dependency_files().items()
                   for path in paths}
    return {"version": __version__, "pipeline": graph.describe(), "outputs": graph.describe_outputs(),
            "settings": settings.fingerprint(),
            "inputs": inputs, "stage_files": stage_files}


def _manifest_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two manifests, in words, for the refusal to resume."""
    for key, what in (("inputs", "input file"), ("stage_files", "file read by a stage")):
        before, after = old.get(key) or {}, new.get(key) or {}
        if not isinstance(before, dict):
            return "the manifest was written by another version of curate"
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        if changed:
            verb = ["changed" if k in before and k in after else "added" if k in after else "removed" for k in changed]
            return f"{what} {changed[0]} {verb[0]} since the interrupted run" + (
                f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
    for key, what in (("version", "the curate version"), ("pipeline", "the pipeline"), ("outputs", "the outputs"),
                      ("settings", "the settings")):
        if old.get(key) != new.get(key):
            return f"{what} changed since the interrupted run"
    return "the run's configuration changed"


def _read_schemas(tasks: list[reader.Task], settings: RunSettings) -> tuple[pa.Schema, list[dict[str, Any]]]:
    """The unified input schema, and the files left out under --on-error skip (with why)."""
    schemas, file_errors, seen = [], [], set()
    for t in tasks:
        if t.rel in seen:
            continue
        seen.add(t.rel)
        try:
            schemas.append((t.rel, reader.file_schema(t.path, t.fmt, t.rel, settings.columns, storage=t.storage)))
        except InputError as exc:
            if settings.on_error == "fail":
                raise
            file_errors.append({"file": t.rel, "row": None, "reason": "unreadable_file", "message": exc.detail})
    schemas = _drop_unusable_files(schemas, settings, file_errors)
    if not schemas:
        return pa.schema([]), file_errors
    return reader.unify_schemas(schemas, settings.columns), file_errors


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


def _open_manifest(store: WorkStore, manifest: dict[str, Any]) -> None:
    """A resumed run must be the same run; a new one starts its manifest."""
    import json

    files = store.files
    if files.exists(store.manifest):
        old, new = files.read_json(store.manifest), json.loads(json.dumps(manifest))
        if old != new:
            raise ConfigError(f"{store.display} holds an interrupted run that differs: {_manifest_change(old, new)}; "
                              "--resume refuses to mix two runs (use --overwrite to start over)")
    else:
        files.delete(store.success_file)
        files.write_json(store.manifest, manifest)


def run_graph(graph: Graph, input_path: str | Path, output: str | Path, executor: Executor,
              settings: RunSettings, resume: bool = False, overwrite: bool = False,
              log: Callable[[str], None] | None = None, progress: Any = None) -> RunResult:
    """Run `graph` over the shards in `input_path`, writing `output`; see the module docstring."""
    log = log or (lambda msg: None)
    # absolute paths or URIs: workers (a process pool, Ray on other nodes) need not share our cwd
    storage = settings.storage
    storage.check(input_path, output)  # a bad URI or a missing extra: one line before any work
    input_path = parse(input_path).uri
    store = WorkStore.open(output, storage)
    if store.in_memory and not executor.in_process:
        raise ConfigError(f"{output} lives in this process's memory, which worker processes do not see: "
                          "run with --workers 1 on the local executor")
    started = time.time()
    graph.check_complete()
    graph.check()
    entry_errors: list[dict[str, Any]] = []  # entries of the input that are not readable shards

    def entry_problem(rel: str, reason: str, message: str) -> None:
        if settings.on_error == "fail":
            raise InputError(message, file=rel, reason=reason)
        entry_errors.append({"file": rel, "row": None, "reason": reason, "message": message})

    files = reader.discover(input_path, entry_problem, settings.strict_inputs, log, storage)
    tasks = reader.plan_tasks(files, settings.target_task_bytes, store.storage)
    unified, file_errors = _read_schemas(tasks, settings)
    if not unified.names:
        raise reader.nothing_readable("no readable input shard", str(input_path), file_errors)
    graph.check_columns(set(unified.names))  # before the output is touched
    for warning in graph.warnings:
        log(f"warning: {warning}")
    rereads = rereads_input(tasks, store.files.is_local)
    plan = RunPlan(graph, schedule(graph, rereads), tasks, unified, settings, store,
                   InputRows.start(tasks, unified, settings, store) if rereads else None)
    with claim(store, input_path, resume, overwrite, log) as lease:
        return _run(plan, len(files), file_errors, entry_errors, lease, executor, resume, log, progress, started)


def _run(plan: RunPlan, n_files: int, file_errors: list[dict[str, Any]], entry_errors: list[dict[str, Any]],
         lease: Lease, executor: Executor, resume: bool, log: Callable[[str], None], progress: Any,
         started: float) -> RunResult:
    graph, tasks, settings, store = plan.graph, plan.tasks, plan.settings, plan.store
    bad_files = {e["file"] for e in file_errors}
    _open_manifest(store, fingerprint(graph, tasks, settings))
    log(f"{len(tasks)} task(s) from {n_files} file(s); {plan.schedule.passes} pass(es); "
        f"{executor.workers} worker(s)")
    warm_up_plan(plan, log)  # before the pool starts: its workers load the kernels instead of compiling

    check_ids(plan, executor, bad_files)
    reports: dict[tuple[str, int], dict[str, Any]] = {}
    summaries: dict[str, tuple[float, dict[str, Any]]] = {}
    for level in range(plan.schedule.passes):
        _run_pass(plan, level, executor, reports, file_errors, bad_files, resume, log, progress)
        lease.check()
        for g in plan.schedule.combines_after(level):
            summaries[g] = _combine(plan, g, executor, log)
            lease.check()
    return _finish(plan, reports, summaries, started, lease, entry_errors)


def _run_pass(plan: RunPlan, level: int, executor: Executor, reports: dict[tuple[str, int], dict[str, Any]],
              file_errors: list[dict[str, Any]], bad_files: set[str], resume: bool, log: Callable[[str], None],
              progress: Any) -> None:
    files, n_passes = plan.store.files, plan.schedule.passes
    units = plan.schedule.in_pass(level)
    todo = []
    for unit in units:
        for t in plan.tasks:
            marker = plan.store.done_marker(unit.name, t.index)
            if files.exists(marker):
                reports[(unit.name, t.index)] = files.read_json(marker)
            elif unit.entry.kind == READ and t.rel in bad_files:
                todo.append((plan, unit.name, t.index, [e for e in file_errors if e["file"] == t.rel]))
            else:
                todo.append((plan, unit.name, t.index))
    label = "; ".join(_unit_label(plan, u) for u in units)
    if not todo:
        if resume:
            log(f"pass {level + 1}/{n_passes}: {label} (done, skipped)")
        return
    log(f"pass {level + 1}/{n_passes}: {label} ({len(todo)} task(s))")
    if progress is not None:
        progress.start(label, todo, plan.tasks)
    try:
        for args, report in executor.imap(run_unit_task, todo):
            reports[(args[1], args[2])] = report
            if progress is not None:
                progress.advance(report)
            _check_max_errors(plan, reports)
    except WorkerLost as exc:
        running = ", ".join(f"task {a[2]} ({plan.tasks[a[2]].label})" for a in exc.items[:4]) or "a task"
        raise WorkerLost(f"{exc} in pass {level + 1} while running {running}; the finished tasks are kept: "
                         "run the same command with --resume to continue") from None
    if progress is not None:
        progress.finish()


def _finish(plan: RunPlan, reports: dict[tuple[int, int], dict[str, Any]],
            summaries: dict[str, tuple[float, dict[str, Any]]], started: float, lease: Lease,
            entry_errors: list[dict[str, Any]]) -> RunResult:
    """Merge the per-task stats, check every stage's accounting, write the run's result files."""
    graph, settings, store = plan.graph, plan.settings, plan.store
    errors = entry_errors + [e for key in sorted(reports, key=_report_order) for e in reports[key]["errors"]]
    order = [READ_STAGE] + [n.name for n in graph.nodes]
    per_task = [[StageStats.from_dict(s) for s in reports[k]["stats"]] for k in sorted(reports, key=_report_order)]
    merged = merge_stats(per_task, order + [n.name + ":summarize" for n in graph.nodes])
    summarized = {s.stage[: -len(":summarize")]: s for s in merged if s.stage.endswith(":summarize")}
    merged = [s for s in merged if not s.stage.endswith(":summarize")]
    stages = {n.name: n.stage for n in graph.nodes}
    for s in merged:
        if s.stage in summarized:
            s.seconds += summarized[s.stage].seconds
            for k, v in summarized[s.stage].counters.items():
                s.counters[k] = s.counters.get(k, 0) + v
        if s.stage in summaries:
            seconds, summary = summaries[s.stage]
            s.seconds += seconds
            s.summary.update(summary)
        if s.stage in stages:
            stages[s.stage].check_accounting(s)
        else:
            s.check()
    check_graph_accounting(graph, {s.stage: s for s in merged})
    sinks = _sink_stats(graph, reports, len(plan.tasks))
    if settings.max_errors is not None and len(errors) > settings.max_errors:
        store.files.write_jsonl(store.errors_file, errors)
        raise InputError(f"{len(errors)} errors, more than --max-errors {settings.max_errors}; first: "
                         f"{_describe_error(errors[0])}; all in {store.errors_file}")
    stats = {
        "version": __version__, "pipeline": graph.name, "tasks": len(plan.tasks), "seed": settings.seed,
        "wall_seconds": round(time.time() - started, 3),
        "docs_in": merged[0].docs_in if merged else 0,
        "docs_out": sum(s["docs"] for s in sinks.values()),
        "errors": len(errors),
        "sinks": sinks,
        "graph": graph_tree(graph),
        "stages": [s.to_dict() for s in merged],
    }
    if errors:
        store.files.write_jsonl(store.errors_file, errors)
    store.files.write_json(store.stats_file, stats)
    lease.check()
    store.files.write_marker(store.success_file, None)  # everything durable before _SUCCESS appears
    if settings.clean_work:
        store.clean_work()
    return RunResult(store.display, stats, errors)


def _report_order(key: tuple[str, int]) -> tuple[int, int]:
    """Reports in task order, then in pass order: errors are listed as the input has them."""
    return key[1], 0 if key[0] == READ_STAGE else 1


def check_graph_accounting(graph: Graph, stats: dict[str, StageStats]) -> None:
    """Every node reads exactly the rows its inputs made: docs in = the sum, over the streams it
    reads (a union: several), of that stream's rows."""
    def rows(ref: StreamRef) -> int:
        st = stats.get(READ_STAGE if ref.node == INPUT_NODE else ref.node)
        if st is None:
            return 0
        if ref.port == KEPT:
            return st.docs_out
        if ref.port == REJECTED:
            return st.rejected_total
        return st.outputs.get(ref.port, 0)

    for node in graph.nodes:
        st = stats.get(node.name)
        expected = sum(rows(r) for r in node.inputs)
        if (st.docs_in if st else 0) != expected:
            raise AccountingError(f"stage '{node.name}': docs in {st.docs_in if st else 0} != {expected}, the rows "
                                  f"of its input(s) {', '.join(str(r) for r in node.inputs)}")


def _sink_stats(graph: Graph, reports: dict[tuple[str, int], dict[str, Any]], n_tasks: int) -> dict[str, Any]:
    sinks = {name: {"from": str(ref), "format": graph.sink_spec(name).format, "docs": 0, "bytes": 0,
                    "shards": n_tasks} for name, ref in graph.sinks.items()}
    for report in reports.values():
        for name, counts in report.get("sinks", {}).items():
            for key in ("docs", "bytes", "tokens"):
                if key in counts:
                    sinks[name][key] = sinks[name].get(key, 0) + counts[key]
    return sinks


def graph_tree(graph: Graph) -> list[dict[str, Any]]:
    """The graph as data for ``curate stats``: every node with the streams it reads."""
    return [{"name": n.name, "stage": n.stage.name, "inputs": [str(r) if r.node else "" for r in n.inputs],
             "outputs": list(n.ports)} for n in graph.nodes]


def _check_max_errors(plan: RunPlan, reports: dict) -> None:
    """Stop once more than --max-errors rows or files were skipped: write what was found to
    _errors.jsonl and name the first ones."""
    limit = plan.settings.max_errors
    if limit is None:
        return
    errors = [e for key in sorted(reports, key=_report_order) for e in reports[key]["errors"]]
    if len(errors) > limit:
        plan.store.files.write_jsonl(plan.store.errors_file, errors)
        first = "; ".join(_describe_error(e) for e in errors[:3])
        raise InputError(f"more than --max-errors {limit} errors ({len(errors)} so far, all in "
                         f"{plan.store.errors_file}); first: {first}")


def _describe_error(e: dict[str, Any]) -> str:
    where = e["file"] + (f" row {e['row']}" if e.get("row") is not None else "")
    return f"{where}: {e['message']}"


def _unit_label(plan: RunPlan, unit: Unit) -> str:
    entry = unit.entry
    if entry.kind == READ:
        names = ["read"]
    elif entry.kind == STREAMS:
        names = [" + ".join(str(r) for r in entry.streams)]
    else:
        names = [f"{entry.node} (apply)"]
    names += unit.chain
    names += [f"{g} (summarize)" for g, u in plan.schedule.summarize_unit.items() if u == unit.name]
    return " -> ".join(names)


def _combine(plan: RunPlan, name: str, executor: Executor, log: Callable[[str], None]) -> tuple[float, dict]:
    """Run a global stage's combine once (its done marker makes a resumed run skip it); a
    combine that crashed starts over with empty state and scratch."""
    node = plan.graph.node(name)
    store = plan.node_store(name)
    files = store.files
    if files.exists(store.done_marker):
        log(f"combine {node.name}: done, skipped")
        return 0.0, files.read_json(store.done_marker).get("summary", {})
    store.reset_state()
    begin_run(plan.store.run_id, plan.store.storage)
    ctx = CombineContext(n_tasks=len(plan.tasks), seed=plan.settings.seed, workers=executor.workers,
                         map=executor.map, store=store, log=log)
    t0 = time.perf_counter()
    log(f"combine {node.name} ...")
    node.stage.combine(ctx)
    checkpoint("combine")
    seconds = time.perf_counter() - t0
    files.write_marker(store.done_marker, {"summary": ctx.summary, "seconds": seconds})
    return seconds, ctx.summary


__all__ = ["RunPlan", "RunResult", "RunSettings", "Executor", "run_graph"]
