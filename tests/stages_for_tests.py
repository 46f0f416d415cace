"""Stages defined outside the package, used by tests (custom stages by import path, slow
stages to kill a run mid-way)."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.pipeline.stage import (
    CombineContext,
    GlobalStage,
    MapStage,
    Param,
    TaskContext,
    reject_rows,
    set_column,
)

# A pipeline slow enough (small batches, a sleep per batch) to be killed while it runs.
KILLABLE_PIPELINE = """
name: killable
settings:
  keep_rejected: true
  batch_rows: 64
stages:
  - stage: normalize
  - stage: tests.stages_for_tests:Slow
    params: {seconds: 0.05}
  - stage: length_filter
    params: {min_chars: 50}
  - stage: exact_dedup
  - stage: token_count
"""


class Slow(MapStage):
    """Sleeps per batch so that a test can kill the run while it is in flight (from the batch at
    row `after_rows` of each task on: the batches before it already reach the task's writers)."""

    name = "slow"
    params = {"seconds": Param(float, 0.05, "sleep per batch", min=0),
              "after_rows": Param(int, 0, "sleep only from this row of each task on", min=0),
              "seconds_env": Param(str, "", "an environment variable that, when set, replaces `seconds` (a "
                                   "resumed run of the same pipeline can then be quick)")}

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        if ctx.row_offset >= self.after_rows:
            time.sleep(float(os.environ.get(self.seconds_env, self.seconds)) if self.seconds_env else self.seconds)
        return table


class TagLength(MapStage):
    """Adds `text_chars`, rejects documents shorter than `min_chars` (a custom stage)."""

    name = "tag_length"
    params = {"min_chars": Param(int, 0, "reject shorter texts", min=0)}

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        chars = pc.utf8_length(table.column(schema.TEXT))
        table = set_column(table, "text_chars", chars)
        return reject_rows(table, pc.less(chars, self.min_chars), "tag_length:short")


class DropsRows(MapStage):
    """A buggy stage that drops rows silently: the runner must refuse it."""

    name = "drops_rows"
    params = {}

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return table.slice(0, table.num_rows // 2)


class PidTag(MapStage):
    """Records the worker's pid (to show that work ran in several processes)."""

    name = "pid_tag"
    params = {}

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return set_column(table, "worker_pid", pa.array([os.getpid()] * table.num_rows, pa.int64()))


class RewritesInput(GlobalStage):
    """A global stage whose combine rewrites an input file (keeping its first `keep` rows): the
    input then changes between the pass that read it and the apply pass that reads it again."""

    name = "rewrites_input"
    params = {"path": Param(str, "", "the input file to rewrite"),
              "keep": Param(int, 1, "rows left in it", min=0)}

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table | None:
        return None

    def combine(self, ctx: CombineContext) -> None:
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(self.path).slice(0, self.keep), self.path)

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return table
