"""The duplicate-id pre-pass: before any stage runs, every readable row's (id, task, row) is
written per task, and one DuckDB window finds every occurrence of an id after its first (in task,
row order); those rows are errors, named with where the id was first seen."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from curate import schema
from curate.errors import InputError
from curate.io import read as reader
from curate.io.duck import connect, sql_list
from curate.pipeline.task import RunPlan
from curate.store.shards import ShardWriter

ID_SCHEMA = pa.schema([("id", pa.string()), ("task", pa.int32()), ("row", pa.int64())])


def id_check_task(plan: RunPlan, task_index: int) -> str:
    """Write (id, task, row) of every readable row of a task."""
    task = plan.tasks[task_index]
    path = plan.store.ids("ids", task.index)
    w = ShardWriter(plan.store.files, path)
    try:
        for table in reader.read_task(task, plan.schema, plan.settings.columns, 65536,
                                      on_row_error=lambda *a: None, project=[schema.ID]):
            w.write(pa.table({"id": table.column(schema.ID), "task": pa.array(np.full(table.num_rows, task.index,
                              dtype=np.int32)), "row": table.column(reader.ROW)}))
    except InputError:
        w.abort()  # the error is reported (under the policy) when the task itself is read
        w = ShardWriter(plan.store.files, path)
    w.close(ID_SCHEMA)
    return path


def find_duplicate_ids(plan: RunPlan, workers: int = 1) -> list[dict[str, Any]]:
    """Every occurrence of an id after its first (in task, row order), with where it was first seen."""
    scratch = plan.store.local_dir("_ids", "scratch")
    files = [plan.store.files.local_copy(path, scratch / "inputs" / f"ids-{t.index:05d}.parquet") for t in plan.tasks
             if plan.store.files.exists(path := plan.store.ids("ids", t.index))]
    if not files:
        return []
    con = connect(scratch / "duckdb_tmp", threads=workers)
    rows = con.execute(f"""
        SELECT id, task, row, first_task, first_row FROM (
            SELECT id, task, row,
                   first_value(task) OVER w AS first_task, first_value(row) OVER w AS first_row,
                   row_number() OVER w AS n
            FROM read_parquet({sql_list(files)}) WHERE id IS NOT NULL
            WINDOW w AS (PARTITION BY id ORDER BY task, row)
        ) WHERE n > 1 ORDER BY task, row
    """).fetchall()
    con.close()
    return [{"id": r[0], "task": r[1], "row": r[2], "first_task": r[3], "first_row": r[4]} for r in rows]


def check_ids(plan: RunPlan, executor: Any, skip_files: set[str]) -> None:
    """Run the pre-pass once (a resumed run finds its marker) and record duplicate rows per task;
    under --on-error fail the first duplicate is an InputError naming both places."""
    store = plan.store
    if store.files.exists(store.ids("_DONE")):
        return
    todo = [(plan, t.index) for t in plan.tasks if t.rel not in skip_files]
    for _ in executor.imap(id_check_task, todo):
        pass
    dups = find_duplicate_ids(plan, executor.workers)
    if dups and plan.settings.on_error == "fail":
        d = dups[0]
        first = plan.tasks[d["first_task"]].rel
        raise InputError(f"duplicate id '{d['id']}' (first seen in {first} row {d['first_row']}); "
                         f"{len(dups)} duplicate(s) in all", file=plan.tasks[d["task"]].rel, row=d["row"],
                         reason="duplicate_id")
    by_task: dict[int, list[dict[str, Any]]] = {}
    for d in dups:
        by_task.setdefault(d["task"], []).append(d)
    for t, found in by_task.items():
        store.files.write_table(store.ids("dups", t), pa.table({
            "row": pa.array([d["row"] for d in found], pa.int64()),
            "first_file": pa.array([plan.tasks[d["first_task"]].rel for d in found], pa.string()),
            "first_row": pa.array([d["first_row"] for d in found], pa.int64()),
        }))
    store.files.write_marker(store.ids("_DONE"), {"duplicates": len(dups)})
