"""Tokenized formats that training frameworks read directly.

**Megatron** (megatron-core's ``IndexedDataset``; layout as written by
``megatron/core/datasets/indexed_dataset.py``): ``part-NNNNN.bin`` holds every document's tokens
back to back; ``part-NNNNN.idx`` is the header ``MMIDIDX\\x00\\x00``, version 1 (uint64), the
token dtype code (uint8: 8 for uint16, 4 for int32), the sequence count and the document-index
count (uint64 each), then every sequence's length (int32), its byte offset in ``.bin`` (int64),
and the document index (int64, sequence numbers where documents start, from 0 to the sequence
count). Each document is one sequence; as ``tools/preprocess_data.py`` does, a document without
tokens has no sequence. Tokens are uint16 when the vocabulary has fewer than 65,500 entries,
else int32 (megatron-core's ``DType.optimal_dtype``).

**datatrove** (``DocumentTokenizer``'s layout, ``datatrove/pipeline/tokens/tokenizer.py``):
``part-NNNNN.ds`` holds the tokens (uint16, or uint32 when the vocabulary exceeds 65,536
entries); ``part-NNNNN.ds.index`` the end of every document in tokens (cumulative, uint64);
``part-NNNNN.ds.metadata`` three text lines: ``TOKENIZER|TOKEN_BYTES``, the token count, and
that count in SI form (``humanize.metric``), which its ``DocumentTokenizerMerger`` reads for the
token size. No ``.ds.loss`` file: curate writes no loss masks.

All integers are little-endian. The data file is published before its index, so an index on
disk always stands over a complete data file.

**Empty tasks.** Neither format has a valid empty shard: megatron-core's ``IndexedDataset`` memory
maps the ``.bin`` and fails on an empty file ("cannot mmap an empty file"), and datatrove's
readers do the same with ``.ds``. A task whose documents give no tokens (no documents, or only
empty ones without BOS / EOS) writes no files; its documents are counted, and the sink's entry in
the run's stats lists it under ``empty_tasks``. Shard i still comes from task i.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curate import schema
from curate.sinks.base import AtomicStream, write_file
from curate.sinks.tokens import TokenEncoder
from curate.store.files import Files

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_DTYPE_CODES = {np.dtype("uint16"): 8, np.dtype("int32"): 4}  # megatron-core's DType enum
MEGATRON_UINT16_BELOW = 65500  # DType.optimal_dtype: uint16 for a cardinality below this


def megatron_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size < MEGATRON_UINT16_BELOW else np.dtype("<i4")


def datatrove_dtype(vocab_size: int) -> np.dtype:
    # PipelineStepWithTokenizer.token_size: 4 bytes when the vocabulary exceeds uint16's range
    return np.dtype("<u4") if vocab_size > np.iinfo(np.uint16).max + 1 else np.dtype("<u2")


class _TokenShard:
    """Streams one task's tokens into a data file; subclasses write the index at close."""

    def __init__(self, files: Files, data_path: str, encoder: TokenEncoder, dtype: np.dtype) -> None:
        self.files, self.data_path, self.encoder, self.dtype = files, data_path, encoder, dtype
        self._data = AtomicStream(files, data_path)
        self._lengths: list[np.ndarray] = []

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        tokens, lengths = self.encoder.encode(table.column(schema.TEXT))
        self._data.write(tokens.astype(self.dtype).data)
        self._lengths.append(lengths)

    def lengths(self) -> np.ndarray:
        return np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int64)

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        lengths = self.lengths()
        tokens = int(lengths.sum())
        if not tokens:  # no valid empty shard in these formats (module docstring)
            self._data.abort()
            return {"docs": len(lengths), "bytes": 0, "shards": 0, "tokens": 0}
        size = self._data.commit()
        size += self.write_index(lengths)
        return {"docs": len(lengths), "bytes": size, "shards": 1, "tokens": tokens}

    def write_index(self, lengths: np.ndarray) -> int:
        raise NotImplementedError

    def abort(self) -> None:
        self._data.abort()


class MegatronSink(_TokenShard):
    """``part-NNNNN.bin`` + ``part-NNNNN.idx``."""

    def __init__(self, files: Files, prefix: str, encoder: TokenEncoder) -> None:
        super().__init__(files, prefix + ".bin", encoder, megatron_dtype(encoder.vocab_size))
        self.idx_path = prefix + ".idx"

    def write_index(self, lengths: np.ndarray) -> int:
        return write_file(self.files, self.idx_path, megatron_index(lengths, self.dtype))


def megatron_index(doc_lengths: np.ndarray, dtype: np.dtype) -> bytes:
    """The ``.idx`` bytes for documents of these token counts (one sequence each)."""
    seq_lengths = doc_lengths[doc_lengths > 0].astype("<i4")
    pointers = np.zeros(len(seq_lengths), dtype="<i8")
    np.cumsum(seq_lengths[:-1] * np.int64(dtype.itemsize), out=pointers[1:])
    doc_index = np.zeros(len(doc_lengths) + 1, dtype="<i8")
    np.cumsum(doc_lengths > 0, out=doc_index[1:])
    head = MEGATRON_HEADER + struct.pack("<QBQQ", MEGATRON_VERSION, MEGATRON_DTYPE_CODES[np.dtype(dtype.name)],
                                         len(seq_lengths), len(doc_index))
    return head + seq_lengths.tobytes() + pointers.tobytes() + doc_index.tobytes()


class DatatroveSink(_TokenShard):
    """``part-NNNNN.ds`` + ``.ds.index`` + ``.ds.metadata``."""

    def __init__(self, files: Files, path: str, encoder: TokenEncoder, tokenizer_name: str) -> None:
        super().__init__(files, path, encoder, datatrove_dtype(encoder.vocab_size))
        self.tokenizer_name = tokenizer_name

    def write_index(self, lengths: np.ndarray) -> int:
        import humanize

        ends = np.cumsum(lengths).astype("<u8")
        total = int(ends[-1]) if len(ends) else 0
        meta = f"{self.tokenizer_name}|{self.dtype.itemsize}\n{total}\n{humanize.metric(total, unit='T')}"
        return (write_file(self.files, self.data_path + ".index", ends.tobytes())
                + write_file(self.files, self.data_path + ".metadata", meta.encode()))


# --------------------------------------------------------------------------- readers
@dataclass
class TokenizedShard:
    """The documents of one tokenized shard, as written: token array and document boundaries."""

    tokens: np.ndarray
    offsets: np.ndarray  # document i is tokens[offsets[i]:offsets[i + 1]]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]


def read_megatron(files: Files, prefix: str) -> TokenizedShard:
    """Read ``prefix.bin`` / ``prefix.idx`` (checking the header), one entry per document."""
    idx = files.read_bytes(prefix + ".idx")
    if idx[:9] != MEGATRON_HEADER:
        raise ValueError(f"{prefix}.idx: not a Megatron index (header {idx[:9]!r})")
    version, code, n_seq, n_doc = struct.unpack_from("<QBQQ", idx, 9)
    if version != MEGATRON_VERSION:
        raise ValueError(f"{prefix}.idx: unsupported version {version}")
    dtype = {c: d for d, c in MEGATRON_DTYPE_CODES.items()}[code]
    at = 9 + struct.calcsize("<QBQQ")
    seq_lengths = np.frombuffer(idx, "<i4", n_seq, at)
    doc_index = np.frombuffer(idx, "<i8", n_doc, at + 12 * n_seq)
    seq_ends = np.concatenate([[0], np.cumsum(seq_lengths, dtype=np.int64)])
    tokens = np.frombuffer(files.read_bytes(prefix + ".bin"), dtype.newbyteorder("<"))
    return TokenizedShard(tokens, seq_ends[doc_index])


def read_datatrove(files: Files, path: str, token_bytes: int = 2) -> TokenizedShard:
    """Read a ``.ds`` file and its ``.ds.index``, one entry per document."""
    ends = np.frombuffer(files.read_bytes(path + ".index"), "<u8").astype(np.int64)
    tokens = np.frombuffer(files.read_bytes(path), "<u2" if token_bytes == 2 else "<u4")
    return TokenizedShard(tokens, np.concatenate([[0], ends]))
