"""Raw numpy token sink, as nanoGPT and OLMo read tokens: ``part-NNNNN.npy`` flat token files,
``part-NNNNN.csv.gz`` document metadata, and ``metadata.json``.

``part-NNNNN.npy`` holds every document's tokens back to back (EOS included), little-endian
uint16 when the vocabulary has at most 65,536 entries, else uint32, with **no header**: despite
the suffix it is not numpy's ``.npy`` format but a flat array, the files dolma's tokenizer writes
and OLMo memory-maps (``np.memmap(path, dtype=..., mode="r")``, OLMo ``olmo/data/memmap_dataset.py``),
and what nanoGPT's ``prepare.py`` writes as ``train.bin`` and its ``train.py`` reads
(``np.memmap(..., dtype=np.uint16, mode="r")``). ``part-NNNNN.csv.gz`` has one line per document,
``start,end,id`` (token offsets into the shard, end exclusive; the first three columns of dolma's
tokenizer metadata), no header. A task without tokens writes neither file (a 0-byte file cannot be
memory-mapped). ``metadata.json`` (written when the run ends) gives the token type, vocabulary
size, tokenizer, BOS / EOS ids and each file's token count.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa

from curate import schema
from curate.sinks.base import AtomicStream, SinkWriter
from curate.sinks.sink_format import register
from curate.sinks.spec import SinkSpec
from curate.sinks.token_chunks import existing_shards, write_index
from curate.sinks.tokens import TokenEncoder, TokenizedFormat
from curate.store.files import Files


def numpy_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype("<u4")


class NumpyTokenShard:
    """Streams one task's tokens into ``.npy`` and its documents' offsets into ``.csv.gz``."""

    def __init__(self, files: Files, prefix: str, encoder: TokenEncoder) -> None:
        self.files, self.prefix = files, prefix
        self.encoder, self.dtype = encoder, numpy_dtype(encoder.vocab_size)
        self._tokens: AtomicStream | None = None  # opened with the first tokens: an empty task opens nothing
        self._docs: AtomicStream | None = None
        self.n_docs = self.n_tokens = 0

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        tokens, lengths = self.encoder.encode(table.column(schema.TEXT))
        if self._tokens is None:
            self._tokens = AtomicStream(self.files, self.prefix + ".npy")
            self._docs = AtomicStream(self.files, self.prefix + ".csv.gz", "gzip")
        self._tokens.write(tokens.astype(self.dtype).data)
        ends = self.n_tokens + np.cumsum(lengths)
        lines = io.StringIO()
        csv.writer(lines, lineterminator="\n").writerows(
            zip((ends - lengths).tolist(), ends.tolist(), table.column(schema.ID).to_pylist()))
        self._docs.write(lines.getvalue().encode("utf-8"))  # type: ignore[union-attr]
        self.n_docs += table.num_rows
        self.n_tokens += int(lengths.sum())

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        if not self.n_tokens:
            self.abort()
            return {"docs": self.n_docs, "bytes": 0, "shards": 0, "tokens": 0}
        assert self._tokens is not None and self._docs is not None
        size = self._tokens.commit() + self._docs.commit()
        return {"docs": self.n_docs, "bytes": size, "shards": 1, "tokens": self.n_tokens}

    def abort(self) -> None:
        for stream in (self._tokens, self._docs):
            if stream is not None:
                stream.abort()


@register
class NumpyFormat(TokenizedFormat):
    name = "numpy"
    help = "Flat uint16/uint32 token files (.npy without header + .csv.gz offsets + metadata.json), as nanoGPT and OLMo memory-map them."
    suffixes = (".npy", ".csv.gz")

    def required_columns(self, spec: SinkSpec) -> tuple[str, ...]:
        return (schema.ID, schema.TEXT)

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        return NumpyTokenShard(files, prefix, self.encoder(spec))

    def finish(self, spec: SinkSpec, files: Files, directory: str, n_tasks: int) -> None:
        encoder = self.encoder(spec)
        dtype = numpy_dtype(encoder.vocab_size)
        shards = [{"file": name, "tokens": size // dtype.itemsize}
                  for name, size in existing_shards(files, directory, ".npy", n_tasks)]
        write_index(files, f"{directory}/metadata.json", {
            "dtype": dtype.name, "byte_order": "little", "vocab_size": encoder.vocab_size,
            "tokenizer": spec.options["tokenizer"], "eos_id": encoder.eos_id, "bos_id": encoder.bos_id,
            "files": shards, "documents": "part-NNNNN.csv.gz: start,end,id per document (token offsets, end exclusive)"})
