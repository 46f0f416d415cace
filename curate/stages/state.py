"""Per-task state of global stages (exact dedup, MinHash, prune): written by combine partitioned by task, so the apply step
of task i reads only its own file (memory bounded by the task, not the corpus)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.io.duck import DEFAULT_MEMORY_MB, connect
from curate.pipeline.stage import CombineContext, Stage, TaskContext

T = TypeVar("T")


def row_positions(table: pa.Table, ctx: TaskContext) -> pa.Array:
    """Each row's index within its task (the runner's row_offset plus the position in the batch)."""
    return pa.array(np.arange(ctx.row_offset, ctx.row_offset + table.num_rows, dtype=np.int64))


def duckdb_connection(ctx: CombineContext | TaskContext, memory_mb: int = DEFAULT_MEMORY_MB) -> Any:
    """A DuckDB connection that spills to the stage's work dir and uses the executor's workers."""
    return connect(Path(ctx.work_dir) / "duckdb_tmp", memory_mb, threads=getattr(ctx, "workers", 1))


def partials_view(con: Any, ctx: CombineContext, name: str = "partials") -> None:
    """Register the partial files as a view with a `task` column (from the file's position)."""
    files = [str(p) for p in ctx.partials]
    selects = [f"SELECT *, {i} AS task FROM read_parquet('{f}')" for i, f in enumerate(files)
               if pq.ParquetFile(f).metadata.num_rows > 0]
    if not selects:
        schema = pq.read_schema(files[0]) if files else pa.schema([])
        cols = ", ".join(f"NULL::{_duck_type(f.type)} AS \"{f.name}\"" for f in schema) or "NULL AS x"
        con.execute(f"CREATE VIEW {name} AS SELECT {cols}, 0 AS task WHERE false")
        return
    # read_parquet over a list with filename would also work; UNION ALL keeps task = list position.
    con.execute(f"CREATE VIEW {name} AS " + " UNION ALL ".join(selects))


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "VARCHAR"


def partition_by_task(ctx: CombineContext, query: str, memory_mb: int = DEFAULT_MEMORY_MB) -> dict[str, int]:
    """Run `query` (over the view `partials`; must return `task`, `row`, `keep`, ...) and write its
    rows as ``state/task-NNNNN.parquet`` sorted by row. Returns counts of rows and kept rows."""
    con = duckdb_connection(ctx, memory_mb)
    partials_view(con, ctx)
    out = ctx.state_dir / "by_task"
    con.execute(f"COPY (SELECT * FROM ({query}) ORDER BY task, row) TO '{out}' "
                "(FORMAT parquet, PARTITION_BY (task), COMPRESSION zstd, OVERWRITE_OR_IGNORE)")
    rows, kept = con.execute(f"SELECT count(*), count(*) FILTER (WHERE keep) FROM ({query})").fetchone()
    con.close()
    return {"rows": int(rows), "kept": int(kept or 0)}


def load_task_state(stage: Stage, ctx: TaskContext, read: Callable[[], T]) -> T:
    """What `read` loads for ``ctx.task_index``, read once per task: the apply step is called
    batch by batch, and only the current task's state is kept (memory bounded by one task)."""
    key = (str(ctx.state_dir), ctx.task_index)
    cached = stage.__dict__.get("_cache_task_state")
    if cached is None or cached[0] != key:
        cached = (key, read())
        stage.__dict__["_cache_task_state"] = cached
    return cached[1]


class TaskState:
    """The combine output rows of one task, sorted by row."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    @classmethod
    def load(cls, stage: Stage, ctx: TaskContext) -> TaskState:
        """Load (once per task) the state rows of ``ctx.task_index``."""

        def read() -> TaskState:
            part_dir = ctx.state_dir / "by_task" / f"task={ctx.task_index}"
            files = sorted(part_dir.glob("*.parquet")) if part_dir.exists() else []
            table = pa.concat_tables([pq.read_table(f) for f in files]).sort_by("row") if files else None
            return cls(table)

        return load_task_state(stage, ctx, read)

    def slice_for(self, ctx: TaskContext, n: int) -> pa.Table:
        """The state rows of the batch starting at ``ctx.row_offset`` with `n` rows."""
        if n == 0:
            return self.table.slice(0, 0) if self.table is not None else pa.table({"row": pa.array([], pa.int64())})
        assert self.table is not None, "state missing for a non-empty task"
        part = self.table.slice(ctx.row_offset, n)
        rows = part.column("row").to_numpy()
        if len(rows) != n or rows[0] != ctx.row_offset or rows[-1] != ctx.row_offset + n - 1:
            raise RuntimeError(f"global stage state does not match task {ctx.task_index} rows "
                               f"{ctx.row_offset}..{ctx.row_offset + n - 1}")
        return part
