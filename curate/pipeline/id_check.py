"""The duplicate-id check: a built-in global node (``_ids``) the scheduler places before the read.

Its unit reads only the id column of every task (the ``ids`` entry, curate.pipeline.passes);
summarize keeps each row's (id, task, row) as the node's partial; combine finds, out of core in
DuckDB, every occurrence of an id after its first (in task, row order) and writes them per task
as state; the read unit then turns those rows into ``duplicate_id`` errors naming where the id
was first seen (curate.pipeline.input_rows). Under ``--on-error fail`` the first duplicate stops
the run, naming both places. Nothing per document is held in the driver: the duplicates stream
from DuckDB into per-task files.

A file whose ids cannot be read (a damaged row group) adds no ids: its error is reported, under
the error policy, when the read unit reads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from curate import schema
from curate.errors import InputError
from curate.io.conform import ROW
from curate.pipeline.stage import CombineContext, GlobalStage, Param, TaskContext
from curate.store.duck import arrow_reader, sql_list

ID_NODE = "_ids"
DUPS = "dups"  # the kind of the per-task state: rows whose id came earlier
PARTIAL = pa.schema([("id", pa.string()), ("task", pa.int32()), ("row", pa.int64())])


class IdCheck(GlobalStage):
    """The duplicate-id check (see the module docstring). Not in the stage registry: every run
    has exactly one, placed by the scheduler."""

    name = ID_NODE
    params = {"on_error": Param(str, "fail", "the run's --on-error: fail stops at the first duplicate",
                                choices=("fail", "skip"))}
    requires = (schema.ID,)
    produces = ()

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        """(id, task, row) of every row: `table` holds the id and the row number in the file."""
        return pa.table({"id": table.column(schema.ID),
                         "task": pa.array(np.full(table.num_rows, ctx.task_index, dtype=np.int32)),
                         "row": table.column(ROW)}, schema=PARTIAL)

    def combine(self, ctx: CombineContext) -> None:
        """Every occurrence of an id after its first, with where it was first seen, written per task."""
        con = ctx.duckdb()
        con.execute(f"""
            CREATE VIEW dups AS SELECT task, row, first_task, first_row FROM (
                SELECT task, row,
                       first_value(task) OVER w AS first_task, first_value(row) OVER w AS first_row,
                       row_number() OVER w AS n
                FROM read_parquet({sql_list(ctx.partials)}) WHERE id IS NOT NULL
                WINDOW w AS (PARTITION BY id ORDER BY task, row)
            ) WHERE n > 1""")
        if self.on_error == "fail":
            first = con.execute("SELECT d.task, d.row, d.first_task, d.first_row, p.id FROM dups d "
                                f"JOIN read_parquet({sql_list(ctx.partials)}) p USING (task, row) "
                                "ORDER BY d.task, d.row LIMIT 1").fetchone()
            if first is not None:
                total = con.execute("SELECT count(*) FROM dups").fetchone()[0]
                con.close()
                raise DuplicateId(*first, total)
        rel = con.sql("SELECT task, row, first_task, first_row FROM dups ORDER BY task, row")
        ctx.store.write_tasks_from(arrow_reader(rel), ctx.n_tasks, kind=DUPS)
        ctx.summary["duplicates"] = con.execute("SELECT count(*) FROM dups").fetchone()[0]
        con.close()

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        raise TypeError("the id check has no apply step: the read unit reads its state")


class DuplicateId(Exception):
    """The first duplicate id under ``--on-error fail``, as task indexes and rows; the runner names
    the files (the combine knows tasks by index only)."""

    def __init__(self, task: int, row: int, first_task: int, first_row: int, id_value: str, total: int) -> None:
        super().__init__(task, row, first_task, first_row, id_value, total)
        self.task, self.row, self.first_task, self.first_row = task, row, first_task, first_row
        self.id_value, self.total = id_value, total

    def as_input_error(self, tasks: list[Any]) -> InputError:
        first = tasks[self.first_task].rel
        return InputError(f"duplicate id '{self.id_value}' (first seen in {first} row {self.first_row}); "
                          f"{self.total} duplicate(s) in all", file=tasks[self.task].rel, row=self.row,
                          reason="duplicate_id")
