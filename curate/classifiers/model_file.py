"""Structural check of a fastText model file (.bin or quantized .ftz) without loading it.

fastText reads a model with unchecked ``istream::read`` calls: a file a few bytes short loads
with zeros at the end (every score 1.0), a corrupt count makes it loop and allocate without end,
and a short matrix fails later with "Vector::mul: size mismatch". :func:`check_model_file`
walks the file's layout instead (header, arguments, dictionary, prune index, input matrix, the
``qout`` flag, output matrix), checks that every count agrees with the others and that the file
is exactly as long as they imply, and raises :class:`~curate.errors.ConfigError` naming the file
and the part that is wrong. Only the header, the dictionary and the quantizer headers are read;
the matrices are skipped by their size, so a multi-GB model is checked in milliseconds (the file
is memory-mapped).

The layout follows fastText's writers (facebookresearch/fastText, src/): ``FastText::saveModel``
and ``signModel`` (fasttext.cc), ``Args::save`` (args.cc), ``Dictionary::save`` (dictionary.cc),
``DenseMatrix::save`` (densematrix.cc), ``QuantMatrix::save`` (quantmatrix.cc) and
``ProductQuantizer::save`` (productquantizer.cc). fastText writes native byte order; this reads
little-endian, the order of every platform fastText ships for.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import ConfigError

MAGIC = 793712314  # FASTTEXT_FILEFORMAT_MAGIC_INT32 (fasttext.cc)
VERSIONS = (11, 12)  # FASTTEXT_VERSION is 12; 11 has the same layout (only maxn is reinterpreted)
KSUB = 256  # centroids per sub-quantizer: ProductQuantizer's ksub_ = 1 << nbits_, nbits_ = 8
CBOW, SKIPGRAM = 1, 2  # model_name::cbow, model_name::sg (args.h): word vectors, no labels
SUPERVISED = 3  # model_name::sup (args.h); its output matrix has one row per label
_HEADER = struct.Struct("<2i")  # magic version
_ARGS = struct.Struct("<12id")  # dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate t
_DICT = struct.Struct("<3i2q")  # size nwords nlabels ntokens pruneidx_size
_BOOL = struct.Struct("<B")
_DENSE = struct.Struct("<2q")  # m n
_QUANT = struct.Struct("<2qi")  # m n codesize (after the qnorm flag)
_PQ = struct.Struct("<4i")  # dim nsubq dsub lastdsub
_ENTRY_TAIL = 9  # after a word's NUL: int64 count, int8 type (entry_type: word 0, label 1)


@dataclass(frozen=True)
class ModelLayout:
    """What the structural check found: enough to say what a model is without loading it."""

    version: int
    dim: int
    model: int  # model_name: 1 cbow, 2 skipgram, 3 supervised
    nwords: int
    nlabels: int
    quantized: bool
    input_rows: int
    output_rows: int
    size: int  # bytes


class _Cursor:
    """Reads fields in order from the file's bytes; a read past the end is a truncation error."""

    def __init__(self, data: np.ndarray, path: str) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {problem}")

    def need(self, nbytes: int, what: str) -> None:
        remain = len(self.data) - self.pos
        if nbytes > remain:
            raise self.fail(f"truncated: {what} needs {nbytes:,} bytes, {remain:,} remain")

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        self.need(layout.size, what)
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def flag(self, what: str) -> bool:
        (value,) = self.unpack(_BOOL, what)
        if value not in (0, 1):
            raise self.fail(f"corrupt: {what} is {value}, not 0 or 1")
        return bool(value)

    def skip(self, nbytes: int, what: str) -> None:
        self.need(nbytes, what)
        self.pos += nbytes


def check_model_file(path: str | Path) -> ModelLayout:
    """Check that `path` is a complete, self-consistent fastText model; ConfigError naming it if not."""
    p = Path(path)
    try:
        size = p.stat().st_size
        data = np.memmap(p, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the model: {exc.strerror or exc}") from None
    cur = _Cursor(data, str(p))
    magic, version = cur.unpack(_HEADER, "the header")
    if magic != MAGIC:
        raise cur.fail(f"not a fastText model (magic number {magic}, expected {MAGIC})")
    if version not in VERSIONS:
        raise cur.fail(f"unsupported fastText format version {version} (supported: {', '.join(map(str, VERSIONS))})")
    dim, _ws, _epoch, _min_count, _neg, _ngrams, loss, model, bucket, minn, maxn, _lr_rate, _t = cur.unpack(
        _ARGS, "the argument block")
    for ok, problem in [(dim > 0, f"dim is {dim}"), (1 <= loss <= 4, f"loss is {loss}"),
                        (1 <= model <= 3, f"model type is {model}"), (bucket >= 0, f"bucket is {bucket}"),
                        (minn >= 0 and maxn >= 0, f"minn/maxn are {minn}/{maxn}")]:
        if not ok:
            raise cur.fail(f"corrupt arguments: {problem}")
    nwords, nlabels, prune_size = _dictionary(cur, bucket)
    quantized = cur.flag("the input quantization flag")
    if prune_size >= 0 and not quantized:
        raise cur.fail("corrupt: a pruned dictionary with a dense input matrix (fastText refuses it)")
    input_rows = nwords + (prune_size if prune_size >= 0 else bucket)
    _matrix(cur, "the input matrix", quantized, input_rows, dim)
    qout = cur.flag("the output quantization flag")
    output_rows = nlabels if model == SUPERVISED else nwords
    _matrix(cur, "the output matrix", quantized and qout, output_rows, dim)
    if cur.pos != size:
        raise cur.fail(f"corrupt: {size - cur.pos:,} bytes after the output matrix (the model ends at byte "
                       f"{cur.pos:,} of {size:,})")
    return ModelLayout(version=version, dim=dim, model=model, nwords=nwords, nlabels=nlabels, quantized=quantized,
                       input_rows=input_rows, output_rows=output_rows, size=size)


def _dictionary(cur: _Cursor, bucket: int) -> tuple[int, int, int]:
    """Check the dictionary and its prune index; (nwords, nlabels, prune index size, -1 if unpruned)."""
    size, nwords, nlabels, ntokens, prune_size = cur.unpack(_DICT, "the dictionary header")
    if min(nwords, nlabels, ntokens) < 0 or nwords + nlabels != size or prune_size < -1:
        raise cur.fail(f"corrupt dictionary header: {size:,} entries, {nwords:,} words, {nlabels:,} labels, "
                       f"{ntokens:,} tokens, prune index of {prune_size:,}")
    cur.need(size * (1 + _ENTRY_TAIL), f"the dictionary ({size:,} entries of at least {1 + _ENTRY_TAIL} bytes)")
    ends = _entry_ends(cur.data, cur.pos, size)
    if len(ends) < size:
        raise cur.fail(f"truncated: the dictionary has {size:,} entries, the file ends after {len(ends):,}")
    types = cur.data[ends + _ENTRY_TAIL]
    n_words = int(np.count_nonzero(types == 0))
    if n_words != nwords or np.count_nonzero(types == 1) != nlabels:
        raise cur.fail(f"corrupt dictionary: its header says {nwords:,} words and {nlabels:,} labels, its entries "
                       f"hold {n_words:,} words, {int(np.count_nonzero(types == 1)):,} labels and "
                       f"{int(np.count_nonzero(types > 1)):,} entries of no known type")
    if size:
        cur.pos = int(ends[-1]) + 1 + _ENTRY_TAIL
    if prune_size > 0:
        cur.need(8 * prune_size, f"the prune index ({prune_size:,} pairs)")
        pairs = np.frombuffer(cur.data, dtype="<i4", count=2 * prune_size, offset=cur.pos).reshape(-1, 2)
        if pairs[:, 0].min() < 0 or pairs[:, 0].max() >= bucket or pairs[:, 1].min() < 0 \
                or pairs[:, 1].max() >= prune_size:
            raise cur.fail(f"corrupt prune index: a pair outside bucket {bucket:,} or index {prune_size:,}")
        cur.pos += 8 * prune_size
    return nwords, nlabels, prune_size


# Below this many dictionary entries the walk runs in Python (bytes.find per entry, about 0.5 us
# each), so checking a typical model costs no numba start-up (about 0.7 s per process); above it
# the compiled walk takes over (a 2M-word vocabulary: 0.07 s).
PY_WALK_MAX_ENTRIES = 200_000


def _entry_ends(data: np.ndarray, start: int, count: int) -> np.ndarray:
    """Offsets of the NUL ending each of `count` dictionary entries from `start`, stopping early when an
    entry (word, NUL, count, type) runs past the end of `data`."""
    if count > PY_WALK_MAX_ENTRIES:
        return _entry_ends_compiled()(data, start, count)
    n = len(data)
    window = min(n - start, max(1 << 20, 64 * count))  # bytes copied out of the map, doubled as needed
    raw = data[start:start + window].tobytes()
    ends, i = [], 0
    while len(ends) < count:
        j = raw.find(b"\0", i)
        if (j < 0 or j + _ENTRY_TAIL >= len(raw)) and len(raw) < n - start:
            window = min(n - start, 2 * window)
            raw = data[start:start + window].tobytes()
            continue
        if j < 0 or start + j + _ENTRY_TAIL >= n:
            break
        ends.append(j)
        i = j + 1 + _ENTRY_TAIL
    return np.array(ends, dtype=np.int64) + start


@functools.cache
def _entry_ends_compiled() -> Any:
    from curate.lean_imports import import_numba

    numba = import_numba()

    @numba.njit(cache=True)
    def walk(data, start, count):  # pragma: no cover - numba
        ends = np.empty(count, np.int64)
        n = len(data)
        i = start
        for e in range(count):
            while i < n and data[i] != 0:
                i += 1
            if i + _ENTRY_TAIL >= n:
                return ends[:e]
            ends[e] = i
            i += 1 + _ENTRY_TAIL
        return ends

    return walk


def _matrix(cur: _Cursor, what: str, quantized: bool, rows: int, cols: int) -> None:
    """Check a dense (int64 m, n, then m*n float32) or quantized matrix of `rows` x `cols`; move past it."""
    if not quantized:
        m, n = cur.unpack(_DENSE, f"the header of {what}")
        _shape(cur, what, m, n, rows, cols)
        cur.skip(4 * m * n, f"{what} ({m:,} x {n:,} float32)")
        return
    qnorm = cur.flag(f"the norm quantization flag of {what}")
    m, n, codesize = cur.unpack(_QUANT, f"the header of {what} (quantized)")
    _shape(cur, what, m, n, rows, cols)
    if codesize < 0:
        raise cur.fail(f"corrupt: {what} has {codesize:,} codes")
    cur.skip(codesize, f"the code table of {what}")
    nsubq = _quantizer(cur, f"the product quantizer of {what}", n)
    if codesize != m * nsubq:
        raise cur.fail(f"corrupt: {what} has {codesize:,} codes, its {m:,} rows of {nsubq} sub-vectors need "
                       f"{m * nsubq:,}")
    if qnorm:
        cur.skip(m, f"the norm code table of {what} ({m:,} rows)")
        _quantizer(cur, f"the norm quantizer of {what}", 1)


def _shape(cur: _Cursor, what: str, m: int, n: int, rows: int, cols: int) -> None:
    if (m, n) != (rows, cols):
        raise cur.fail(f"corrupt: {what} is {m:,} x {n:,}, the arguments and dictionary imply {rows:,} x {cols:,}")


def _quantizer(cur: _Cursor, what: str, dim: int) -> int:
    """Check a product quantizer for `dim`-dimensional vectors (int32 dim, nsubq, dsub, lastdsub, then
    dim * KSUB float32 centroids); returns its number of sub-quantizers."""
    pq_dim, nsubq, dsub, lastdsub = cur.unpack(_PQ, f"the header of {what}")
    # ProductQuantizer's constructor: nsubq = ceil(dim / dsub), the last one takes what is left.
    ok = pq_dim == dim and dsub >= 1 and nsubq == -(-dim // dsub) and lastdsub == dim - (nsubq - 1) * dsub
    if not ok:
        raise cur.fail(f"corrupt: {what} has dim {pq_dim}, {nsubq} sub-quantizers of {dsub} (last {lastdsub}); "
                       f"the matrix has {dim} columns")
    cur.skip(4 * KSUB * dim, f"the centroid table of {what}")
    return nsubq
