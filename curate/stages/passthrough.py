"""passthrough: change nothing. A pipeline of just this validates and converts shards
(JSONL to zstd Parquet, unified schema, ids checked) and is the I/O benchmark's no-op stage."""

from __future__ import annotations

import pyarrow as pa

from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, TaskContext


@register
class Passthrough(MapStage):
    name = "passthrough"
    produces = ()
    params = {}

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return table
