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

Only rows that pass the read claim their id. The pre-pass reads ids alone, so a row whose id is
readable but which the read itself refuses (invalid UTF-8 in another column, a damaged row group
of another column, a file that fails as a whole) is known only once the read unit ran. Under
``--on-error skip`` the runner then *settles* the check (:func:`settle`): every duplicate whose
first occurrence failed the read moves on to the next readable occurrence of its id, from the
duplicates alone (no second pass over the ids), and the read unit runs again for the tasks whose
duplicates changed. A run whose failed rows are no id's first occurrence (every clean run) pays
nothing but a look at the read reports.
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
from curate.store.state import StageStore

ID_NODE = "_ids"
DUPS = "dups"  # the kind of the per-task state: rows whose id came earlier
SETTLED = "settled"  # the same after settle(), for the tasks it changed (listed in settled.json)
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
        partials = f"read_parquet({sql_list(ctx.partials)})"
        # Computed once into a table that holds the duplicates only (none in a clean run): the ids
        # seen more than once are found by a hash aggregate, and only their rows are ordered by
        # the window (ordering every id by a window, three times over a view, was most of the
        # pass-through's cost beyond reading and writing; issue 34).
        con.execute(f"""
            CREATE TEMP TABLE dups AS SELECT task, row, first_task, first_row, id FROM (
                SELECT id, task, row,
                       first_value(task) OVER w AS first_task, first_value(row) OVER w AS first_row,
                       row_number() OVER w AS n
                FROM {partials}
                WHERE id IN (SELECT id FROM {partials} WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1)
                WINDOW w AS (PARTITION BY id ORDER BY task, row)
            ) WHERE n > 1""")
        total = con.execute("SELECT count(*) FROM dups").fetchall()[0][0]
        if self.on_error == "fail" and total:
            first = con.execute("SELECT task, row, first_task, first_row, id FROM dups ORDER BY task, row LIMIT 1"
                                ).fetchall()[0]
            con.close()
            raise DuplicateId(*first, total)
        rel = con.sql("SELECT task, row, first_task, first_row FROM dups ORDER BY task, row")
        ctx.store.write_tasks_from(arrow_reader(rel), ctx.n_tasks, kind=DUPS)
        ctx.summary["duplicates"] = total
        con.close()

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        raise TypeError("the id check has no apply step: the read unit reads its state")


def settle(store: StageStore, failed: dict[int, set[int] | None]) -> list[int]:
    """Release the ids claimed by rows that failed the read: `failed` maps a task to the rows of
    its file that failed (None: the whole task). Every duplicate whose first occurrence failed
    moves on to the first readable occurrence of its id, which is kept. Writes the changed
    tasks' duplicates as state of kind SETTLED and returns those tasks (the caller runs their
    read again, then marks the check settled)."""
    def did_fail(task: int, row: int) -> bool:
        rows = failed.get(task, ())
        return rows is None or row in rows

    dups = {t: _dup_rows(store.read_task(t, DUPS, cache=False)) for t in store.tasks_with(DUPS)}
    later: dict[tuple[int, int], list[tuple[int, int]]] = {}  # a failed first occurrence -> its later rows
    for t, rows in dups.items():
        for row, first in rows:
            if did_fail(*first):
                later.setdefault(first, []).append((t, row))
    changed = sorted({t for rows in later.values() for t, _ in rows})
    settled = {t: [r for r in dups[t] if not did_fail(*r[1])] for t in changed}
    for rows in later.values():
        readable = sorted(r for r in rows if not did_fail(*r))
        for t, row in readable[1:]:  # the first readable occurrence is kept, the others are its duplicates
            settled[t].append((row, readable[0]))
    for t in changed:
        rows = sorted(settled[t])
        store.write_task(t, pa.table({"row": pa.array([r for r, _ in rows], pa.int64()),
                                      "first_task": pa.array([f[0] for _, f in rows], pa.int32()),
                                      "first_row": pa.array([f[1] for _, f in rows], pa.int64())}), SETTLED)
    return changed


def settled_tasks(store: StageStore) -> set[int] | None:
    """The tasks :func:`settle` changed, once the check is marked settled; None before."""
    marker = store.read_marker(SETTLED)
    return None if marker is None else set(marker["tasks"])


def mark_settled(store: StageStore, changed: list[int]) -> None:
    """The check is settled: the read of `changed` tasks reads SETTLED state from now on."""
    store.write_json(SETTLED, {"tasks": changed}, marker=True)


def task_duplicates(store: StageStore, task: int) -> pa.Table | None:
    """Task `task`'s rows whose id came earlier, as (row, first_task, first_row): the settled
    state where :func:`settle` changed the task, else the combine's (None: no duplicates)."""
    kind = SETTLED if task in (settled_tasks(store) or ()) else DUPS
    return store.read_task(task, kind, cache=False)


def _dup_rows(table: pa.Table) -> list[tuple[int, tuple[int, int]]]:
    """A task's duplicates as (row, (first task, first row))."""
    cols = [table.column(c).to_pylist() for c in ("row", "first_task", "first_row")]
    return [(r, (ft, fr)) for r, ft, fr in zip(*cols)]


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
