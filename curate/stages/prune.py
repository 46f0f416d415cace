"""prune: keep the best documents by any score column, globally or within groups.

Two rules, exactly one of them: ``fraction`` keeps the top ``round(fraction * n)`` documents of
each group (n = the group's size; ties broken by id, so the choice is deterministic), and
``threshold`` keeps those with score >= threshold. ``group_by`` (e.g. ``quality_bucket`` or
``domain``) applies the rule within each value of that column instead of over the whole corpus.
A null score ranks last and never passes a threshold.

``random: true`` is the ablation baseline: in each group it keeps as many documents as the score
rule would, but drawn uniformly at random (ranked by a seeded hash of the id), so a training run
on the pruned corpus can be compared with one on a random subset of the same size.

Rejected rows get ``reject_reason`` ``prune:below_top_fraction``, ``prune:below_threshold`` or
``prune:random``. summarize keeps (row, score, id[, group, random key]) per document; combine ranks
them with DuckDB window functions (out of core) and writes the keep flags per task.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import CombineContext, GlobalStage, Param, TaskContext, reject_rows
from curate.stages.buckets import scores_of
from curate.stages.state import partition_by_task, row_positions, task_rows

REASON_TOP_FRACTION = "prune:below_top_fraction"
REASON_THRESHOLD = "prune:below_threshold"
REASON_RANDOM = "prune:random"
MAX_GROUPS_IN_SUMMARY = 100


@register
class Prune(GlobalStage):
    name = "prune"
    produces = ()
    params = {
        "score_column": Param(str, schema.QUALITY_SCORE, "numeric column to rank by"),
        "fraction": Param(float, None, "keep this top fraction of each group", min=0.0, max=1.0, nullable=True),
        "threshold": Param(float, None, "keep documents with score >= threshold", nullable=True),
        "group_by": Param(str, None, "apply the rule within each value of this column (e.g. quality_bucket, "
                          "domain); default: over the whole corpus", nullable=True),
        "random": Param(bool, False, "keep as many documents per group as the rule would, chosen at random "
                        "(seeded): the ablation baseline"),
    }

    def validate(self) -> None:
        if (self.fraction is None) == (self.threshold is None):
            raise ConfigError("stage 'prune': give exactly one of 'fraction' or 'threshold'")

    def reason(self) -> str:
        if self.random:
            return REASON_RANDOM
        return REASON_TOP_FRACTION if self.fraction is not None else REASON_THRESHOLD

    def required_columns(self) -> tuple[str, ...]:
        return (schema.ID, schema.TEXT, self.score_column, *((self.group_by,) if self.group_by else ()))

    def kernels(self) -> list[Any]:
        from curate.text import id_hash

        return list(id_hash.KERNELS)

    def warm_up(self, sample: pa.Table) -> None:
        from curate.text.id_hash import id_hashes

        id_hashes(sample.column(schema.ID), 0)

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        scores = scores_of(table, self.score_column, self.name, "score the documents first (e.g. classify) "
                           "or set score_column")
        cols = {
            "row": row_positions(table, ctx),
            "score": pa.array(scores, pa.float64(), mask=np.isnan(scores)),
            "id": table.column(schema.ID).cast(pa.string()),
        }
        if self.group_by is not None:
            if self.group_by not in table.column_names:
                raise ConfigError(f"stage 'prune': group_by column '{self.group_by}' not found "
                                  f"(have: {', '.join(table.column_names)})")
            cols["grp"] = table.column(self.group_by).cast(pa.string())
        if self.random:
            from curate.text.id_hash import id_uniforms

            cols["rkey"] = pa.array(id_uniforms(table.column(schema.ID), ctx.seed), pa.float64())
        return pa.table(cols)

    def _query(self) -> str:
        grp = "grp" if self.group_by is not None else "NULL::VARCHAR AS grp"
        rkey = "rkey" if self.random else "0.0 AS rkey"
        if self.fraction is not None:
            # round half up: floor(f * n + 0.5)
            quota = f"CAST(floor({float(self.fraction)!r} * count(*) OVER w + 0.5) AS BIGINT)"
        else:
            quota = f"sum(CASE WHEN score >= {float(self.threshold)!r} THEN 1 ELSE 0 END) OVER w"
        if self.random:
            keep = "row_number() OVER (PARTITION BY grp ORDER BY rkey, id) <= quota"
        elif self.fraction is not None:
            keep = "row_number() OVER (PARTITION BY grp ORDER BY score DESC NULLS LAST, id) <= quota"
        else:
            keep = f"coalesce(score >= {float(self.threshold)!r}, false)"
        return f"""
            SELECT task, row, grp, {keep} AS keep
            FROM (SELECT task, row, score, id, grp, rkey, {quota} AS quota
                  FROM (SELECT task, row, score, id, {grp}, {rkey} FROM partials)
                  WINDOW w AS (PARTITION BY grp))
        """

    def combine(self, ctx: CombineContext) -> None:
        if self.threshold is not None and math.isnan(self.threshold):
            raise ConfigError("stage 'prune': threshold must be a number")
        groups_sql = (f"SELECT grp, count(*), count(*) FILTER (WHERE keep) FROM decided GROUP BY grp "
                      f"ORDER BY grp NULLS LAST LIMIT {MAX_GROUPS_IN_SUMMARY}") if self.group_by is not None else None
        counts = partition_by_task(ctx, self._query(), extra_query=groups_sql)
        summary = {"docs": counts["rows"], "kept": counts["kept"], "rejected": counts["rows"] - counts["kept"]}
        if groups_sql is not None and counts["rows"]:
            summary["groups"] = {str(g): {"docs": int(n), "kept": int(k)} for g, n, k in counts["extra"]}
        ctx.summary.update(summary)

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        state = task_rows(ctx, table.num_rows)
        if table.num_rows == 0:
            return table
        return reject_rows(table, pc.invert(state.column("keep")), self.reason())
