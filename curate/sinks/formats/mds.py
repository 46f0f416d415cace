"""MosaicML MDS tokenized sink: ``part-NNNNN.mds`` shards and ``index.json``, as
mosaicml-streaming's ``MDSWriter`` writes them, for its ``StreamingDataset`` (and llm-foundry).

One column, ``tokens`` (encoding ``ndarray:uint16``, or ``ndarray:int32`` for vocabularies of
more than 65,536 entries, the type llm-foundry's token datasets use), one sample per document
(its tokens, EOS included). Each task writes one shard holding its documents
(``streaming/base/format/mds/writer.py``, ``encode_joint_shard``: ``uint32 n``, ``uint32
offsets[n + 1]``, the shard's JSON config, then every sample as its ``uint32`` size followed by the
ndarray encoding of ``streaming/base/format/mds/encodings.py``: one byte ``ndim << 2 | shape
type``, the shape, the values). MDS cannot encode an empty array, so a document without tokens
(``eos: false`` and empty text) has no sample, as megatron gives it no sequence; a task without
samples writes no shard. ``index.json`` (written when the run ends) lists the shards in task order.
"""

from __future__ import annotations

import json
from typing import Any

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

MDS_VERSION = 2
COLUMN = "tokens"
# NDArray's shape types, by the code in the low two bits of its first byte
SHAPE_TYPES = (np.dtype("uint8"), np.dtype("uint16"), np.dtype("uint32"), np.dtype("uint64"))


def mds_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype("<i4")


def shard_config(dtype: np.dtype) -> dict[str, Any]:
    """What MDSWriter.get_config records in each shard and in the index (one shard per task:
    no size limit)."""
    return {"column_encodings": [f"ndarray:{dtype.name}"], "column_names": [COLUMN], "column_sizes": [None],
            "compression": None, "format": "mds", "hashes": [], "size_limit": None, "version": MDS_VERSION}


def encode_samples(tokens: np.ndarray, lengths: np.ndarray) -> list[bytes]:
    """Every non-empty document as an MDS sample: its size, then its 1-D ndarray encoding."""
    samples, start = [], 0
    for n in lengths.tolist():
        if n:
            code = next(i for i, t in enumerate(SHAPE_TYPES) if n <= np.iinfo(t).max)
            body = (bytes([1 << 2 | code]) + np.array([n], SHAPE_TYPES[code]).astype(SHAPE_TYPES[code].newbyteorder("<")).tobytes()
                    + tokens[start:start + n].tobytes())
            samples.append(np.uint32(len(body)).tobytes() + body)
        start += n
    return samples


class MdsShard(ChunkedTokenShard):
    def payload(self, tokens: np.ndarray, lengths: np.ndarray) -> bytes | None:
        samples = encode_samples(tokens, lengths)
        if not samples:
            return None
        config = json.dumps(shard_config(self.dtype), sort_keys=True).encode("utf-8")
        sizes = np.fromiter(map(len, samples), dtype=np.int64, count=len(samples))
        return offset_table(sizes, len(config)) + config + b"".join(samples)


@register
class MdsFormat(ChunkedTokenFormat):
    name = "mds"
    help = "MosaicML MDS shards (.mds + index.json), one tokens sample per document, for mosaicml-streaming's StreamingDataset."
    suffixes = (".mds",)

    shard = MdsShard

    def token_dtype(self, vocab_size: int) -> np.dtype:
        return mds_dtype(vocab_size)

    def finish(self, spec: SinkSpec, files: Files, directory: str, n_tasks: int) -> None:
        config = shard_config(self.spec_dtype(spec))
        shards = [{**config, "raw_data": {"basename": name, "bytes": size, "hashes": {}},
                   "samples": item_count(files, f"{directory}/{name}"), "zip_data": None}
                  for name, size in existing_shards(files, directory, ".mds", n_tasks)]
        write_index(files, f"{directory}/index.json", {"shards": shards, "version": MDS_VERSION})
