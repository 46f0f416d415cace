"""line_dedup: remove the lines (or paragraphs) that repeat across the corpus: boilerplate.

After CCNet (Wenzek et al. 2020, "CCNet: Extracting High Quality Monolingual Datasets from Web
Crawl Data", Sec. 3.3), which removes every line seen more than once in its shard group, and
dolma's paragraph dedup. A *unit* is a line (split on "\\n"; run ``normalize`` first so "\\r\\n"
is "\\n") or, with ``unit: paragraph``, a block between "\\n\\n" separators. Units are compared
after CCNet's normalisation: lowercased, accents stripped (NFD, combining marks removed), digits
replaced by 0, Unicode punctuation removed, whitespace runs collapsed to one space and trimmed.
A unit that normalises to nothing (a blank line) is never counted or removed.

summarize  per batch: one list per document of its units' 64-bit hashes (curate's string hash,
           collisions ~ n^2 / 2^65 over n distinct units).
combine    DuckDB counts every hash over the corpus out of core (capped at ``memory_mb``, spilling
           to ``_curate/work/``) and writes, per task, each document's indices of the units occurring
           more than ``max_count`` times in all (every occurrence is removed, the first too).
apply      per batch: drops those units from the text, joins the rest with the separator it was
           split on, records ``line_dedup_units_removed`` / ``line_dedup_bytes_removed`` (UTF-8),
           and rejects documents that lost units and kept fewer than ``min_chars_after``
           characters (``line_dedup:too_short``, with their original text).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
from curate.stages.heuristics.text import Segments, TextBatch, as_numpy, hash_strings, split
from curate.stages.state import partition_by_task, row_positions, task_rows
from curate.store.duck import DEFAULT_MEMORY_MB

SEPARATORS = {"line": "\n", "paragraph": "\n\n"}
# Partial and state columns, internal to this stage.
P_HASHES, S_DROP = "unit_hashes", "drop_units"


def normalize_units(units: pa.Array) -> pa.Array:
    """CCNet's normalisation of each unit (see the module docstring)."""
    text = pc.utf8_normalize(pc.utf8_lower(units), "NFD")
    text = pc.replace_substring_regex(text, r"[\pM\pP]+", "")
    text = pc.replace_substring_regex(text, "[1-9]", "0")
    # a run of whitespace, or one whitespace character other than " ", becomes one space
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s\s+|[^\S ]", " "))


@register
class LineDedup(GlobalStage):
    name = "line_dedup"
    params = {
        "unit": Param(str, "line", "what repeats: lines, or paragraphs (blocks between blank lines)",
                      choices=tuple(SEPARATORS)),
        "max_count": Param(int, 1, "remove units occurring more often than this in the corpus", min=1),
        "min_chars_after": Param(int, 1, "reject documents that lost units and kept fewer characters", min=0),
        "memory_mb": Param(int, DEFAULT_MEMORY_MB, "memory cap of the DuckDB count (it spills beyond)", min=64),
    }
    produces: ClassVar[tuple[str, ...]] = (schema.LINE_DEDUP_UNITS_REMOVED, schema.LINE_DEDUP_BYTES_REMOVED)

    def units(self, text: pa.Array) -> Segments:
        """The units of every text of a batch."""
        return split(text, SEPARATORS[self.unit])

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        units = self.units(TextBatch(table.column(schema.TEXT)).text)
        normalized = normalize_units(units.values)
        hashes = pa.array(hash_strings(normalized), pa.uint64(), mask=as_numpy(pc.equal(pc.utf8_length(normalized), 0)))
        lists = pa.LargeListArray.from_arrays(pa.array(units.offsets, pa.int64()), hashes)
        return pa.table({"row": row_positions(table, ctx), P_HASHES: lists})

    def combine(self, ctx: CombineContext) -> None:
        query = f"""
            WITH units AS (
                SELECT task, row, unnest({P_HASHES}) AS h, generate_subscripts({P_HASHES}, 1) - 1 AS i
                FROM partials
            ),
            frequent AS (
                SELECT h FROM units WHERE h IS NOT NULL GROUP BY h HAVING count(*) > {int(self.max_count)}
            ),
            removed AS (
                SELECT task, row, list(i ORDER BY i) AS drop
                FROM units SEMI JOIN frequent USING (h)
                GROUP BY task, row
            )
            SELECT p.task, p.row, r.drop IS NULL AS keep, coalesce(r.drop, []::BIGINT[]) AS {S_DROP}
            FROM partials p LEFT JOIN removed r USING (task, row)
        """
        summary = partition_by_task(ctx, query, self.memory_mb)
        ctx.summary.update({"documents_edited": summary["rows"] - summary["kept"]})

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        if table.num_rows == 0:
            table = set_column(table, schema.LINE_DEDUP_UNITS_REMOVED, pa.array([], pa.int64()))
            return set_column(table, schema.LINE_DEDUP_BYTES_REMOVED, pa.array([], pa.int64()))
        drop = task_rows(ctx, table.num_rows).column(S_DROP).combine_chunks()
        text = TextBatch(table.column(schema.TEXT)).text
        units = self.units(text)
        dropped = Segments.from_lists(drop)
        keep = np.ones(len(units.values), dtype=bool)
        keep[units.offsets[dropped.parent] + dropped.values.to_numpy()] = False
        kept = units.select(keep)
        joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(kept.offsets, pa.int64()),
                                                              units.values.filter(pa.array(keep))),
                                pa.scalar(SEPARATORS[self.unit], units.values.type))
        joined = joined.cast(text.type)
        n_removed = dropped.per_doc()
        edited = n_removed > 0
        short = edited & (pc.utf8_length(joined).to_numpy(zero_copy_only=False) < self.min_chars_after)
        new_text = pc.if_else(pa.array(edited & ~short), joined, text)  # rejected rows keep their text
        removed_bytes = np.where(edited, pc.subtract(pc.binary_length(text), pc.binary_length(joined))
                                 .to_numpy(zero_copy_only=False), 0)
        ctx.count("line_dedup:units_removed", int(n_removed[~short].sum()))
        ctx.count("line_dedup:bytes_removed", int(removed_bytes[~short].sum()))
        table = set_column(table, schema.TEXT, new_text)
        table = set_column(table, schema.LINE_DEDUP_UNITS_REMOVED, pa.array(n_removed, pa.int64()))
        table = set_column(table, schema.LINE_DEDUP_BYTES_REMOVED, pa.array(removed_bytes, pa.int64()))
        return reject_rows(table, pa.array(short), "line_dedup:too_short")
