"""Per-task state of global stages (exact dedup, prune): combine writes, through the work store,
one state file per task sorted by row, so the apply step of task i reads only its own (memory
bounded by the task, not the corpus)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline.stage import CombineContext, TaskContext
from curate.store.duck import arrow_reader, readable_path, sql_list


def row_positions(table: pa.Table, ctx: TaskContext) -> pa.Array:
    """Each row's index within its task (the runner's row_offset plus the position in the batch)."""
    return pa.array(np.arange(ctx.row_offset, ctx.row_offset + table.num_rows, dtype=np.int64))


def partials_view(con: object, ctx: CombineContext, name: str = "partials") -> None:
    """Register the partial files as a view with a `task` column (from the file's position).

    One scan over the list of files (DuckDB opens them as it reads, a few at a time), joined to a
    small file -> task table: the number of open files does not grow with the number of tasks."""
    files = [str(p) for p in ctx.partials]
    nonempty = [(i, f) for i, f in enumerate(files) if pq.ParquetFile(f).metadata.num_rows > 0]
    if not nonempty:
        schema = pq.read_schema(files[0]) if files else pa.schema([])
        cols = ", ".join(f"NULL::{_duck_type(f.type)} AS \"{f.name}\"" for f in schema) or "NULL AS x"
        con.execute(f"CREATE VIEW {name} AS SELECT {cols}, 0 AS task WHERE false")
        return
    tasks = pa.table({"file": [readable_path(f) for _, f in nonempty],
                      "task": pa.array([i for i, _ in nonempty], pa.int32())})
    con.register(f"{name}_task_files", tasks)
    con.execute(f"CREATE VIEW {name} AS SELECT p.* EXCLUDE (filename), t.task "
                f"FROM read_parquet({sql_list([f for _, f in nonempty])}, filename = true) p "
                f"JOIN {name}_task_files t ON p.filename = t.file")


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "VARCHAR"


def partition_by_task(ctx: CombineContext, query: str, memory_mb: int | None = None,
                      extra_query: str | None = None) -> dict[str, Any]:
    """Run `query` (over the view `partials`; must return `task`, `row`, `keep`, ...) and store its
    rows as per-task state sorted by row. Returns counts of rows and kept rows, and under
    ``extra`` the rows of `extra_query` (over the view `decided` of the query's rows), if given."""
    con = ctx.duckdb(memory_mb)
    partials_view(con, ctx)
    con.execute(f"CREATE TEMP TABLE decided AS {query}")
    rel = con.sql("SELECT * FROM decided ORDER BY task, row")
    ctx.store.write_tasks_from(arrow_reader(rel), ctx.n_tasks)
    rows, kept = con.execute("SELECT count(*), count(*) FILTER (WHERE keep) FROM decided").fetchone()
    extra = con.execute(extra_query).fetchall() if extra_query else None
    con.close()
    return {"rows": int(rows), "kept": int(kept or 0), "extra": extra}


def task_rows(ctx: TaskContext, n: int) -> pa.Table:
    """The state rows of the batch starting at ``ctx.row_offset`` with `n` rows (read once per task)."""
    assert ctx.store is not None
    table = ctx.store.read_task(ctx.task_index)
    if n == 0:
        return table.slice(0, 0) if table is not None else pa.table({"row": pa.array([], pa.int64())})
    if table is None:
        raise RuntimeError(f"global stage state missing for task {ctx.task_index}")
    part = table.slice(ctx.row_offset, n)
    rows = part.column("row").to_numpy()
    if len(rows) != n or rows[0] != ctx.row_offset or rows[-1] != ctx.row_offset + n - 1:
        raise RuntimeError(f"global stage state does not match task {ctx.task_index} rows "
                           f"{ctx.row_offset}..{ctx.row_offset + n - 1}")
    return part
