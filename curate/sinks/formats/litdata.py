"""litdata tokenized sink (litgpt's pretraining format): ``part-NNNNN.bin`` chunks and ``index.json``.

Each task writes one chunk holding its documents, one item per document (its tokens, EOS
included), as litdata's ``optimize(..., item_loader=TokensLoader())`` writes them: ``uint32 n``,
``uint32 offsets[n + 1]``, then the tokens with no per-item header (litdata's
``no_header_numpy`` serializer). Tokens are uint16 when the vocabulary has at most 65,536 entries,
else int32 (litgpt's own tokenizer returns int32). A task without documents writes no chunk.
``index.json`` (written when the run ends) lists the chunks in task order with their item and
token counts (``chunk_size``, ``dim``), which ``TokensLoader`` cuts into blocks; read with
``litdata.StreamingDataset(SINK, item_loader=TokensLoader(block_size=...))``.
"""

from __future__ import annotations

import numpy as np

from curate.sinks.sink_format import register
from curate.sinks.spec import SinkSpec
from curate.sinks.token_chunks import (
    ChunkedTokenFormat,
    ChunkedTokenShard,
    existing_shards,
    item_count,
    offset_table,
    write_index,
)
from curate.store.files import Files

# litdata/constants.py: _NUMPY_DTYPES_MAPPING numbers the numpy scalar types in this order; the
# data format names the token type by its number there
LITDATA_NUMPY_DTYPE_INDEX = {np.dtype("uint16"): 5, np.dtype("int32"): 2}
# the chunk size bound the index states: one chunk per task, never cut (litdata's writer was given
# this bound for the golden files)
LITDATA_CHUNK_BYTES = 1 << 31
# a single leaf (one array per item), as litdata's treespec_dumps writes it
LITDATA_LEAF_SPEC = '[1, {"type": null, "context": null, "children_spec": []}]'


def litdata_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype("<i4")


class LitdataChunk(ChunkedTokenShard):
    def payload(self, tokens: np.ndarray, lengths: np.ndarray) -> bytes:
        return offset_table(lengths * self.dtype.itemsize) + tokens.tobytes()


@register
class LitdataFormat(ChunkedTokenFormat):
    name = "litdata"
    help = "litdata chunks (.bin + index.json) of token arrays, as litgpt pretrains from (StreamingDataset + TokensLoader)."
    suffixes = (".bin",)

    shard = LitdataChunk

    def token_dtype(self, vocab_size: int) -> np.dtype:
        return litdata_dtype(vocab_size)

    def finish(self, spec: SinkSpec, files: Files, directory: str, n_tasks: int) -> None:
        dtype = self.spec_dtype(spec)
        chunks = []
        for name, size in existing_shards(files, directory, ".bin", n_tasks):
            n = item_count(files, f"{directory}/{name}")
            dim = (size - 4 * (n + 2)) // dtype.itemsize
            chunks.append({"chunk_bytes": size, "chunk_size": n, "dim": dim, "filename": name})
        # the writer's config as litdata 0.2.76's BinaryWriter.get_config states it
        config = {"chunk_bytes": LITDATA_CHUNK_BYTES, "chunk_size": None, "compression": None,
                  "compression_batch_size": None, "compression_level": None,
                  "data_format": [f"no_header_numpy:{LITDATA_NUMPY_DTYPE_INDEX[dtype.newbyteorder('=')]}"],
                  "data_spec": LITDATA_LEAF_SPEC, "encryption": None, "ipc_compression": None,
                  "item_loader": "TokensLoader", "types": "json"}
        write_index(files, f"{directory}/index.json", {"chunks": chunks, "config": config})
