"""token_count: the ``n_tokens`` column the planner and sampler count in.

Two methods. ``estimate`` (default): ceil(UTF-8 bytes / bytes_per_token), with 4.0 bytes per
token, the usual rule of thumb for GPT-2-style BPE on English web text; it is fast and needs no
model, but over-counts for languages whose characters take several bytes. ``tokenizer``: the exact
count from any tokenizer curate's loader reads (:mod:`curate.text.tokenizer_loader`: a
``tokenizer.json``, a model folder, a Hub id in the local cache, a SentencePiece ``.model``, a
tiktoken file or cached encoding), without special tokens.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, set_column
from curate.store.storage import Storage, parse
from curate.text.tokenizer_loader import load_tokenizer, resolve


@register
class TokenCount(MapStage):
    name = "token_count"
    produces = (schema.N_TOKENS,)
    params = {
        "method": Param(str, "estimate", "estimate (bytes / bytes_per_token) or tokenizer (exact)",
                        choices=("estimate", "tokenizer")),
        "tokenizer": Param(str, None, "tokenizer.json, model folder, Hub id (local cache), SentencePiece .model, "
                                      ".tiktoken file or tiktoken encoding (method: tokenizer)", nullable=True),
        "bytes_per_token": Param(float, 4.0, "bytes per token for the estimate", min=0.5, max=64),
    }

    def validate(self) -> None:
        if self.method == "tokenizer" and not self.tokenizer:
            raise ConfigError("stage 'token_count': method 'tokenizer' needs the 'tokenizer' path of a tokenizer.json")
        if self.tokenizer and ("://" in self.tokenizer or os.path.exists(self.tokenizer)):
            # a path made absolute for workers that do not share the driver's directory (Ray on other
            # nodes); a Hub id or a tiktoken encoding name stays as written
            self.config["tokenizer"] = parse(self.tokenizer).uri

    def check(self, storage: Storage) -> None:
        if self.method == "tokenizer":
            load_tokenizer(self.tokenizer, storage)

    def dependency_files(self, storage: Storage) -> list[str]:
        if self.method != "tokenizer":
            return []
        source = resolve(self.tokenizer, storage)
        # a file at a URI is fingerprinted where the user put it, not as its local copy
        return [self.tokenizer] if "://" in self.tokenizer else list(source.files)

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        text = table.column(schema.TEXT)
        if self.method == "estimate":
            nbytes = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(np.float64)
            counts = np.ceil(nbytes / self.bytes_per_token).astype(np.int64)
        else:
            tok = self.cached("tokenizer", lambda: load_tokenizer(self.tokenizer, ctx.storage))
            counts = tok.count(pc.fill_null(text, "").to_pylist())
        return set_column(table, schema.N_TOKENS, pa.array(counts, pa.int64()))
