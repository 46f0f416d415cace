"""token_count: the ``n_tokens`` column the planner and sampler count in.

Two methods. ``estimate`` (default): ceil(UTF-8 bytes / bytes_per_token), with 4.0 bytes per
token, the usual rule of thumb for GPT-2-style BPE on English web text; it is fast and needs no
model, but over-counts for languages whose characters take several bytes. ``tokenizer``: the exact
count from a Hugging Face ``tokenizer.json`` (any model's), via the ``tokenizers`` package's batch
encoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, set_column
from curate.store.storage import Storage


@register
class TokenCount(MapStage):
    name = "token_count"
    produces = (schema.N_TOKENS,)
    params = {
        "method": Param(str, "estimate", "estimate (bytes / bytes_per_token) or tokenizer (exact)",
                        choices=("estimate", "tokenizer")),
        "tokenizer": Param(str, None, "path of a Hugging Face tokenizer.json (method: tokenizer)", nullable=True, path=True),
        "bytes_per_token": Param(float, 4.0, "bytes per token for the estimate", min=0.5, max=64),
    }

    def validate(self) -> None:
        if self.method == "tokenizer" and not self.tokenizer:
            raise ConfigError("stage 'token_count': method 'tokenizer' needs the 'tokenizer' path of a tokenizer.json")

    def check(self, storage: Storage) -> None:
        if self.method == "tokenizer" and not storage.file_exists(self.tokenizer):
            raise ConfigError(f"tokenizer file not found: {self.tokenizer}")

    def dependency_files(self, storage: Storage) -> list[str]:
        return [self.tokenizer] if self.method == "tokenizer" else []

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        text = table.column(schema.TEXT)
        if self.method == "estimate":
            nbytes = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(np.float64)
            counts = np.ceil(nbytes / self.bytes_per_token).astype(np.int64)
        else:
            tok = self.cached("tokenizer", lambda: self._load(ctx.storage))
            encodings = tok.encode_batch(text.to_pylist(), add_special_tokens=False)
            counts = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        return set_column(table, schema.N_TOKENS, pa.array(counts, pa.int64()))

    def _load(self, storage: Storage) -> Any:
        from curate.text.tokenizer_file import load_tokenizer_file

        return load_tokenizer_file(str(storage.stage_file(self.tokenizer, "tokenizer file")), self.tokenizer)
