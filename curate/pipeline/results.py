"""A finished run's results: per-task stats merged per node, every node's accounting checked (its
kind's rule, and docs in = the rows of the streams it reads), sink counts, and the result files
``_curate/stats.json`` and ``_curate/errors.jsonl``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from curate import __version__
from curate.errors import AccountingError, InputError
from curate.pipeline.graph import INPUT_NODE, KEPT, READ_NODE, REJECTED, Graph, StreamRef
from curate.pipeline.run import Run
from curate.pipeline.stats import StageStats, merge_stats
from curate.pipeline.task import RunPlan

SUMMARIZE = ":summarize"
# A stage that rejects more than this share of the rows that reached it is named in _curate/stats.json's
# "heavy_removals" and in the end-of-run summary (issue 30: the default rules kept 2% of real
# documentation and the run said nothing).
HEAVY_REMOVAL_SHARE = 0.5


@dataclass
class RunResult:
    output: str
    stats: dict[str, Any]
    errors: list[dict[str, Any]]

    @property
    def stages(self) -> list[dict[str, Any]]:
        return self.stats["stages"]


def merged_stats(plan: RunPlan, run: Run) -> list[StageStats]:
    """One entry per node in pipeline order (the read first): its tasks' stats with its summarize
    steps' seconds and counters and its combine's seconds and summary, each checked against its
    kind's accounting rule."""
    graph, reports = plan.graph, run.reports
    order = [READ_NODE] + [n.name for n in graph.nodes]
    per_task = [[StageStats.from_dict(s) for s in reports.units[k]["stats"]] for k in reports.ordered_keys()]
    merged = merge_stats(per_task, order + [name + SUMMARIZE for name in order[1:]])
    summarized = {s.stage[: -len(SUMMARIZE)]: s for s in merged if s.stage.endswith(SUMMARIZE)}
    merged = [s for s in merged if not s.stage.endswith(SUMMARIZE)]
    stages = {n.name: n.stage for n in graph.nodes}
    for s in merged:
        if s.stage in summarized:
            s.seconds += summarized[s.stage].seconds
            for k, v in summarized[s.stage].counters.items():
                s.counters[k] = s.counters.get(k, 0) + v
        if s.stage in reports.combines:
            seconds, summary = reports.combines[s.stage]
            s.seconds += seconds
            s.summary.update(summary)
        if s.stage in stages:
            stages[s.stage].check_accounting(s)
        else:
            s.check()
    check_graph_accounting(graph, {s.stage: s for s in merged})
    return merged


def check_graph_accounting(graph: Graph, stats: dict[str, StageStats]) -> None:
    """Every node reads exactly the rows its inputs made: docs in = the sum, over the streams it
    reads (a union: several), of that stream's rows."""
    def rows(ref: StreamRef) -> int:
        st = stats.get(READ_NODE if ref.node == INPUT_NODE else ref.node)
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


def sink_stats(plan: RunPlan, run: Run) -> dict[str, Any]:
    """Per sink: the stream it writes, its format, documents, bytes (and tokens) over all shards, the
    shards written and ``empty_tasks``: the tasks that wrote none (a format without a valid empty
    shard: JSON Lines, the tokenized ones)."""
    graph = plan.graph
    sinks = {name: {"from": str(ref), "format": graph.sink_spec(name).format, "docs": 0, "bytes": 0,
                    "shards": 0, "empty_tasks": []} for name, ref in graph.sinks.items()}
    for (_, task), report in sorted(run.reports.units.items(), key=lambda item: item[0][1]):
        for name, counts in report.get("sinks", {}).items():
            for key in ("docs", "bytes", "tokens", "shards"):
                if key in counts:
                    sinks[name][key] = sinks[name].get(key, 0) + counts[key]
            if not counts.get("shards", 1):
                sinks[name]["empty_tasks"].append(task)
    return sinks


def graph_tree(graph: Graph) -> list[dict[str, Any]]:
    """The graph as data for ``curate stats``: every node with the streams it reads."""
    return [{"name": n.name, "stage": n.stage.name, "inputs": [str(r) if r.node else "" for r in n.inputs],
             "outputs": list(n.ports)} for n in graph.nodes]


def run_stats(plan: RunPlan, run: Run) -> dict[str, Any]:
    """The content of ``_curate/stats.json``; raises when more errors than ``--max-errors`` were found."""
    merged = merged_stats(plan, run)
    sinks = sink_stats(plan, run)
    errors = run.reports.errors()
    check_max_errors(run, errors)
    settings = run.settings
    return {
        "version": __version__, "pipeline": plan.graph.name, "tasks": len(plan.tasks), "seed": settings.seed,
        "wall_seconds": round(time.time() - run.started, 3),
        "docs_in": merged[0].docs_in if merged else 0,
        "docs_out": sum(s["docs"] for s in sinks.values()),
        "errors": len(errors),
        "sinks": sinks,
        "graph": graph_tree(plan.graph),
        "stages": [s.to_dict() for s in merged],
        "heavy_removals": heavy_removals(merged, rejects_read(plan.graph)),
    }


def rejects_read(graph: Graph) -> set[str]:
    """The nodes whose rejected rows another node reads (``NAME.rejected``): not thrown away."""
    return {ref.node for n in graph.nodes for ref in n.inputs if ref.port == REJECTED}


def heavy_removals(stages: list[StageStats], kept_elsewhere: set[str] | None = None) -> list[dict[str, Any]]:
    """Every stage (the read included) that rejected more than half of the rows that reached it,
    with its most frequent reason (the rule: ``set:rule`` for ``filter``), that reason's share of
    the stage's input, and the id of its first rejected row; stages in `kept_elsewhere`, whose
    rejected rows another node reads, are left out."""
    found = []
    for s in stages:
        removed = s.rejected_total
        if not s.docs_in or removed <= HEAVY_REMOVAL_SHARE * s.docs_in or s.stage in (kept_elsewhere or ()):
            continue
        reason, count = max(s.rejected.items(), key=lambda item: (item[1], item[0]))
        found.append({"stage": s.stage, "docs_in": s.docs_in, "removed": removed,
                      "share": round(removed / s.docs_in, 4), "top_reason": reason, "top_reason_removed": count,
                      "top_reason_share": round(count / s.docs_in, 4), "example_id": s.examples.get(reason)})
    return found


def check_max_errors(run: Run, errors: list[dict[str, Any]], final: bool = True) -> None:
    """Stop once more than ``--max-errors`` rows or files were skipped: write what was found to
    ``_curate/errors.jsonl`` and name the first ones."""
    limit, store = run.settings.max_errors, run.store
    if limit is None or len(errors) <= limit:
        return
    store.files.write_jsonl(store.errors_file, errors)
    if final:
        raise InputError(f"{len(errors)} errors, more than --max-errors {limit}; first: "
                         f"{describe_error(errors[0])}; all in {store.errors_file}")
    first = "; ".join(describe_error(e) for e in errors[:3])
    raise InputError(f"more than --max-errors {limit} errors ({len(errors)} so far, all in "
                     f"{store.errors_file}); first: {first}")


def describe_error(e: dict[str, Any]) -> str:
    where = e["file"] + (f" row {e['row']}" if e.get("row") is not None else "")
    return f"{where}: {e['message']}"
