"""exact_dedup: drop exact copies of a document's text, keeping the first occurrence.

summarize: a 128-bit xxh3 hash of each text (run ``normalize`` first so that copies differing
only in whitespace or Unicode form collide), with the row's position. combine: DuckDB groups the
hashes out of core and decides, per task, which rows are kept: the first in (task, row) order,
the deterministic order of the input. apply: rejects the other copies (``exact_duplicate``) and
adds ``dup_count`` = how many documents the kept one stands for (a ``dup_count`` already present,
from an earlier dedup, is summed).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate import schema
from curate.pipeline.registry import register
from curate.pipeline.stage import (
    CombineContext,
    GlobalStage,
    Param,
    TaskContext,
    reject_rows,
    set_column,
)
from curate.stages.state import partition_by_task, row_positions, task_rows


def text_hashes(text: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) 64-bit halves of xxh3_128 of each text's UTF-8 bytes (null hashes as empty)."""
    n = len(text)
    hi = np.empty(n, dtype=np.uint64)
    lo = np.empty(n, dtype=np.uint64)
    digest = xxhash.xxh3_128_intdigest
    for i, s in enumerate(text.to_pylist()):
        h = digest(s.encode("utf-8", "surrogatepass") if s else b"")
        hi[i] = h >> 64
        lo[i] = h & 0xFFFFFFFFFFFFFFFF
    return hi, lo


@register
class ExactDedup(GlobalStage):
    name = "exact_dedup"
    produces = (schema.DUP_COUNT,)
    params = {
        "annotate_only": Param(bool, False, "add dup_count to every document and remove nothing"),
    }

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        hi, lo = text_hashes(table.column(schema.TEXT))
        counts = _dup_counts(table)
        return pa.table({"h_hi": hi, "h_lo": lo, "row": row_positions(table, ctx), "weight": counts})

    def combine(self, ctx: CombineContext) -> None:
        query = """
            SELECT task, row,
                   row_number() OVER g = 1 AS keep,
                   sum(weight) OVER h AS dup_count,
                   count(*) OVER h AS copies
            FROM partials
            WINDOW h AS (PARTITION BY h_hi, h_lo), g AS (h ORDER BY task, row)
        """
        summary = partition_by_task(ctx, query)
        ctx.summary.update({"exact_duplicates": summary["rows"] - summary["kept"], "unique_texts": summary["kept"]})

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        if table.num_rows == 0:
            return set_column(table, schema.DUP_COUNT, pa.array([], pa.int64()))
        state = task_rows(ctx, table.num_rows)
        keep = state.column("keep")
        table = set_column(table, schema.DUP_COUNT, state.column("dup_count").cast(pa.int64()))
        if self.annotate_only:
            return table
        return reject_rows(table, pc.invert(keep), schema.REASON_EXACT_DUPLICATE)


def _dup_counts(table: pa.Table) -> np.ndarray:
    if schema.DUP_COUNT in table.column_names:
        return pc.fill_null(table.column(schema.DUP_COUNT), 1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.ones(table.num_rows, dtype=np.int64)
