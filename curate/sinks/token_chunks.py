"""What the chunked token formats share (litdata's chunks, MosaicML's MDS shards): one file per
task that starts with its item count and an offset table, so a task's documents are gathered
first and the file is written whole at close; a task without documents writes no file, and the
sink's index (written once the run's tasks are done) lists the files that exist.

Both layouts start with ``uint32 n`` and ``uint32 offsets[n + 1]``, little-endian, each offset
counted from the start of the file: litdata ``streaming/writer.py`` (``BinaryWriter._create_chunk``)
and mosaicml-streaming ``streaming/base/format/mds/writer.py`` (``encode_joint_shard``, which puts
its JSON config between the table and the items). Offsets are uint32, so one file holds under
4 GiB; a task's shard is about ``target_task_bytes`` of text, far below that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from curate import schema
from curate.errors import ConfigError
from curate.sinks.base import SinkWriter, write_file
from curate.sinks.tokens import TokenEncoder, TokenizedFormat
from curate.store.files import Files

if TYPE_CHECKING:
    from curate.sinks.spec import SinkSpec

UINT32_LIMIT = 1 << 32


def offset_table(item_sizes: np.ndarray, prefix_bytes: int = 0) -> bytes:
    """``uint32 n``, then the ``n + 1`` offsets of items of these sizes, counted from the start of
    the file, after the table itself and `prefix_bytes` more."""
    n = len(item_sizes)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(item_sizes, out=offsets[1:])
    offsets += 4 + 4 * (n + 1) + prefix_bytes
    if offsets[-1] >= UINT32_LIMIT:
        raise ConfigError(f"a task's shard would hold {int(offsets[-1]):,} bytes, past the 4 GiB its uint32 offsets "
                          f"address: lower target_task_bytes")
    return np.uint32(n).tobytes() + offsets.astype("<u4").tobytes()


def item_count(files: Files, path: str) -> int:
    """The item count at the head of a chunk or shard file."""
    with files.fs.open_input_file(path) as fh:
        return int(np.frombuffer(fh.read(4), "<u4")[0])


def existing_shards(files: Files, directory: str, suffix: str, n_tasks: int) -> Iterator[tuple[str, int]]:
    """(file name, size) of every task's shard that exists, in task order."""
    from pyarrow import fs as pafs

    names = [f"part-{t:05d}{suffix}" for t in range(n_tasks)]
    infos = files.fs.get_file_info([f"{directory}/{n}" for n in names])
    for name, info in zip(names, infos):
        if info.type == pafs.FileType.File:
            yield name, int(info.size)


def write_index(files: Files, path: str, obj: Any) -> None:
    """A JSON index as the libraries write theirs (``json.dump(..., sort_keys=True)``)."""
    files.write_bytes(path, json.dumps(obj, sort_keys=True).encode("utf-8"))


class ChunkedTokenShard:
    """Gathers one task's documents (tokens in the sink's dtype); at close writes the shard file
    that :meth:`payload` makes of them, or nothing for a task without documents."""

    def __init__(self, files: Files, path: str, encoder: TokenEncoder, dtype: np.dtype) -> None:
        self.files, self.path, self.encoder, self.dtype = files, path, encoder, dtype
        self._tokens: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        tokens, lengths = self.encoder.encode(table.column(schema.TEXT))
        self._tokens.append(tokens.astype(self.dtype))
        self._lengths.append(lengths)

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        if not self._lengths:
            return {"docs": 0, "bytes": 0, "shards": 0, "tokens": 0}
        tokens, lengths = np.concatenate(self._tokens), np.concatenate(self._lengths)
        data = self.payload(tokens, lengths)
        size = write_file(self.files, self.path, data) if data is not None else 0
        return {"docs": len(lengths), "bytes": size, "shards": int(data is not None), "tokens": int(lengths.sum())}

    def payload(self, tokens: np.ndarray, lengths: np.ndarray) -> bytes | None:
        """The shard file's bytes for these documents, or None for no file."""
        raise NotImplementedError

    def abort(self) -> None:
        self._tokens, self._lengths = [], []


class ChunkedTokenFormat(TokenizedFormat):
    """A sink format whose task shards are :class:`ChunkedTokenShard` files: `shard` writes them,
    with the token type :meth:`token_dtype` gives for the tokenizer's vocabulary."""

    shard: type[ChunkedTokenShard]

    def token_dtype(self, vocab_size: int) -> np.dtype:
        raise NotImplementedError

    def spec_dtype(self, spec: SinkSpec) -> np.dtype:
        """The token type of this sink (its tokenizer's vocabulary size)."""
        return self.token_dtype(self.encoder(spec).vocab_size)

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        encoder = self.encoder(spec)
        return self.shard(files, prefix + self.suffixes[0], encoder, self.token_dtype(encoder.vocab_size))
