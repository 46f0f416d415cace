"""What an unfinished run has done and what ``--resume`` will do.

A run writes its schedule (passes, their units and combines, the number of tasks) under
``_curate/work/`` when it starts; the done markers of its units and combines say what finished. ``curate
stats`` on an OUTPUT without ``_curate/stats.json`` reads both: finished tasks per pass, and the work a
resumed run skips and still does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from curate.store.layout import WorkStore, part_index
from curate.store.state import StageStore

if TYPE_CHECKING:
    from curate.pipeline.passes import Unit
    from curate.pipeline.task import RunPlan


def schedule_record(plan: RunPlan, label: Callable[[RunPlan, Unit], str]) -> dict[str, Any]:
    """The content of ``_curate/work/schedule.json``: the pipeline's name, the task count, and per pass
    its units (name and what they do, `label`) and the combines that follow it."""
    sched = plan.schedule
    return {"pipeline": plan.graph.name, "tasks": len(plan.tasks),
            "passes": [{"units": [{"name": u.name, "label": label(plan, u)} for u in sched.in_pass(level)],
                        "combines": list(sched.combines_after(level))} for level in range(sched.passes)]}


def finished_tasks(store: WorkStore, unit: str) -> int:
    """How many tasks have a done marker for `unit`."""
    return sum(1 for name in store.files.listdir(store.done_dir(unit)) if part_index(name, "json") is not None)


def progress(store: WorkStore) -> dict[str, Any] | None:
    """Per pass: finished tasks of each unit and whether each combine is done; None when the run
    never got as far as writing its schedule."""
    if not store.files.exists(store.schedule_file):
        return None
    record = store.files.read_json(store.schedule_file)
    tasks = record["tasks"]
    passes = []
    for p in record["passes"]:
        units = [{**u, "done": finished_tasks(store, u["name"]), "tasks": tasks} for u in p["units"]]
        combines = [{"name": c, "done": store.files.exists(StageStore(store, c).done_marker)}
                    for c in p["combines"]]
        passes.append({"units": units, "combines": combines})
    return {"pipeline": record["pipeline"], "tasks": tasks, "passes": passes}


def resume_plan(prog: dict[str, Any]) -> list[str]:
    """What ``--resume`` will do, one sentence a step: skip what finished, then the rest in order."""
    done = sum(u["done"] for p in prog["passes"] for u in p["units"])
    steps = [f"skip the {done:,} finished unit task(s)" if done else "start from the first pass (nothing finished)"]
    for level, p in enumerate(prog["passes"], 1):
        left = sum(u["tasks"] - u["done"] for u in p["units"])
        if left:
            steps.append(f"run the {left:,} unfinished unit task(s) of pass {level}")
        steps += [f"combine {c['name']}" for c in p["combines"] if not c["done"]]
    steps.append("write _curate/stats.json and _SUCCESS")
    return steps


def format_progress(prog: dict[str, Any]) -> list[str]:
    """The lines ``curate stats`` prints for an unfinished run."""
    n = len(prog["passes"])
    lines = [f"unfinished run of pipeline {prog['pipeline']}: {prog['tasks']:,} task(s), {n} pass(es)"]
    for level, p in enumerate(prog["passes"], 1):
        for u in p["units"]:
            lines.append(f"  pass {level}/{n}: {u['label']:<60} {u['done']:>6,}/{u['tasks']:,} tasks done")
        for c in p["combines"]:
            lines.append(f"  combine {c['name']:<62} {'done' if c['done'] else 'not done':>14}")
    lines.append("--resume (the same command with --resume added) will: " + "; ".join(resume_plan(prog)))
    return lines
