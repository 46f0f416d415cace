"""MinHash signatures of word n-gram shingles, computed over a whole Arrow batch in compiled code.

Pipeline per document (one numba kernel per batch; per document only its word hashes and
shingle keys are kept):

1. words and their XXH64 hashes (seed 0), see :mod:`curate.text.words`;
2. shingle = n consecutive words (default 5); a document with 1 <= L < n words has one shingle,
   its whole word sequence. Shingle hash = fmix64(polynomial of its word hashes), with the
   shingle length mixed in, so "a b" and "a b c" differ and word order matters;
3. hash family: for permutation k, h_k(x) = ((a_k * x + b_k) mod 2^64) >> 32 on the 32-bit key
   x = high half of the shingle hash, a_k and b_k uniform 64-bit numbers drawn from the seed.
   This is Dietzfelbinger's multiply-add-shift scheme, strongly universal (2-independent) from
   32-bit keys to 32-bit values (M. Thorup, "High Speed Hashing for Integers and Strings",
   arXiv:1504.06804, section 3.3). It costs one 64-bit multiply-add per shingle and hash, against
   a multiply and a modulo by 2^61 - 1 for the classic (a*x + b) mod p family;
4. signature[k] = min over shingles of h_k (uint32), in one of two loop orders chosen by the
   document's length (_min_by_shingle, _min_by_hash: same integers, see docs/dedup.md). A
   document without words has no shingle and the all-ones signature; callers exclude it from LSH.

The estimated Jaccard similarity of two documents is the share of equal signature entries.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate.lean_imports import import_numba
from curate.text.words import char_classes, hash_words, max_words, utf8_buffers

numba = import_numba()  # without numba's SciPy probes (curate/lean_imports.py)

EMPTY = np.uint32(0xFFFFFFFF)
_MAX = np.uint64(0xFFFFFFFF)
_POLY = np.uint64(0x9E3779B185EBCA87)  # odd multiplier (XXH64 PRIME64_1) for the polynomial
_M1 = np.uint64(0xFF51AFD7ED558CCD)  # MurmurHash3 fmix64 constants (Austin Appleby, public domain)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S32, _S33 = np.uint64(32), np.uint64(33)
_WORD_SEED = np.uint64(0)
_PERM_SALT = 0x6D696E68617368  # "minhash": separates the permutation stream from other seeded draws


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) uint64 parameters of the `num_perm` hash functions for `seed` (deterministic)."""
    rng = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, _PERM_SALT])
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


@numba.njit(inline="always")
def fmix64(h):
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    return h ^ (h >> _S33)


@numba.njit(inline="always")
def _shingle(words, i, n):
    h = np.uint64(n)
    for j in range(n):
        h = h * _POLY + words[i + j]
    return fmix64(h)


# Documents with fewer shingles than this take the per-shingle loop (the 112 hashes of one shingle
# at a time); longer ones the per-hash loop (one hash over a block of shingles). Measured on the
# stdlib corpus cut into documents of 5 to 1000 shingles (bench/dedup.py, docs/performance.md).
_SHORT_DOC = 64
_KEY_BLOCK = 4096  # shingle keys per pass of the per-hash loop: 16 KB, they stay in L1


@numba.njit(inline="always")
def _min_by_shingle(row, keys, start, stop, a_lo, a_hi, b_lo, b_hi):
    """row[k] = min(row[k], h_k(x)) for the keys x in keys[start:stop], two keys at a time.

    h_k(x) = ((a_k * x + b_k) mod 2^64) >> 32 computed on 32-bit halves, which stays exact: with
    a = a_hi 2^32 + a_lo, b = b_hi 2^32 + b_lo and x < 2^32, a_lo x + b_lo < 2^64 does not overflow,
    and h_k(x) = ((a_lo x + b_lo) >> 32) + a_hi x + b_hi mod 2^32. The 32-bit row lets the compiler
    keep 8 hashes in one AVX2 register where 64-bit arithmetic keeps 4.
    """
    i = start
    while i + 1 < stop:
        x0 = np.uint64(keys[i])
        x1 = np.uint64(keys[i + 1])
        for k in range(len(row)):
            lo, hi, blo, bhi = np.uint64(a_lo[k]), np.uint64(a_hi[k]), np.uint64(b_lo[k]), np.uint64(b_hi[k])
            v0 = np.uint32((((lo * x0 + blo) >> _S32) + hi * x0 + bhi) & _MAX)
            v1 = np.uint32((((lo * x1 + blo) >> _S32) + hi * x1 + bhi) & _MAX)
            row[k] = min(row[k], min(v0, v1))
        i += 2
    if i < stop:
        x = np.uint64(keys[i])
        for k in range(len(row)):
            lo, hi, blo, bhi = np.uint64(a_lo[k]), np.uint64(a_hi[k]), np.uint64(b_lo[k]), np.uint64(b_hi[k])
            row[k] = min(row[k], np.uint32((((lo * x + blo) >> _S32) + hi * x + bhi) & _MAX))


@numba.njit(inline="always")
def _min_by_hash(row, keys, start, stop, a, b):
    """The same minimum, looping over the keys inside each hash (two hashes per pass): a min
    reduction the compiler vectorises over 4 keys, with a_k and b_k held in registers."""
    n_perm = len(row)
    for lo_key in range(start, stop, _KEY_BLOCK):
        block = keys[lo_key : min(lo_key + _KEY_BLOCK, stop)]  # a view: indices from 0 vectorise
        for k in range(0, n_perm - 1, 2):
            a0, b0, a1, b1 = a[k], b[k], a[k + 1], b[k + 1]
            m0 = np.int64(row[k])  # values < 2^32: a signed compare is exact and cheaper in AVX2
            m1 = np.int64(row[k + 1])
            for i in range(len(block)):
                x = np.uint64(block[i])
                m0 = min(m0, np.int64((a0 * x + b0) >> _S32))
                m1 = min(m1, np.int64((a1 * x + b1) >> _S32))
            row[k] = np.uint32(m0)
            row[k + 1] = np.uint32(m1)
        if n_perm % 2:
            k = n_perm - 1
            m0 = np.int64(row[k])
            for i in range(len(block)):
                m0 = min(m0, np.int64((a[k] * np.uint64(block[i]) + b[k]) >> _S32))
            row[k] = np.uint32(m0)


@numba.njit(inline="always")
def _min_hashes(row, keys, start, stop, a, b, a_lo, a_hi, b_lo, b_hi):
    """row[k] = min(row[k], min over x in keys[start:stop] of h_k(x)) with the faster loop order."""
    if stop - start < _SHORT_DOC:
        _min_by_shingle(row, keys, start, stop, a_lo, a_hi, b_lo, b_hi)
    else:
        _min_by_hash(row, keys, start, stop, a, b)


def _halves(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Low and high 32-bit halves (uint32) of the permutation parameters: a_lo, a_hi, b_lo, b_hi."""
    return ((a & _MAX).astype(np.uint32), (a >> _S32).astype(np.uint32),
            (b & _MAX).astype(np.uint32), (b >> _S32).astype(np.uint32))


@numba.njit(cache=True)
def _signatures(data, offsets, classes, ngram, a, b, a_lo, a_hi, b_lo, b_hi):
    n_docs = len(offsets) - 1
    sig = np.empty((n_docs, len(a)), dtype=np.uint32)
    n_shingles = np.zeros(n_docs, dtype=np.int64)
    scratch = np.empty(256, dtype=np.uint64)
    keys = np.empty(256, dtype=np.uint32)
    for d in range(n_docs):
        need = max_words(offsets[d + 1] - offsets[d])
        if need > len(scratch):
            scratch = np.empty(2 * need, dtype=np.uint64)
            keys = np.empty(2 * need, dtype=np.uint32)
        n_words = hash_words(data, offsets[d], offsets[d + 1], classes, _WORD_SEED, scratch)
        if n_words == 0:
            count = 0
        elif n_words < ngram:
            keys[0] = np.uint32(_shingle(scratch, 0, n_words) >> _S32)
            count = 1
        else:
            count = n_words - ngram + 1
            for i in range(count):
                keys[i] = np.uint32(_shingle(scratch, i, ngram) >> _S32)
        n_shingles[d] = count
        row = sig[d]
        row[:] = EMPTY
        _min_hashes(row, keys, 0, count, a, b, a_lo, a_hi, b_lo, b_hi)
    return sig, n_shingles


def signatures(
    texts: pa.Array | pa.ChunkedArray, ngram: int, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (uint32, len(texts) x len(a)) and shingle counts (int64) of a text array."""
    data, offsets = utf8_buffers(texts)
    return _signatures(data, offsets, char_classes(), np.int64(ngram), a, b, *_halves(a, b))


@numba.njit(cache=True)
def _signatures_of_keys(keys, offsets, a, b, a_lo, a_hi, b_lo, b_hi):
    sig = np.empty((len(offsets) - 1, len(a)), dtype=np.uint32)
    for d in range(len(offsets) - 1):
        row = sig[d]
        row[:] = EMPTY
        _min_hashes(row, keys, offsets[d], offsets[d + 1], a, b, a_lo, a_hi, b_lo, b_hi)
    return sig


def signatures_of_shingle_hashes(
    values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Signatures of documents given as 64-bit shingle hashes (values, int64 offsets of len + 1),
    with the compiled MinHash loop alone: what :func:`signatures` does after hashing the words."""
    keys = (np.asarray(values, dtype=np.uint64) >> _S32).astype(np.uint32)
    return _signatures_of_keys(keys, np.asarray(offsets, dtype=np.int64), a, b, *_halves(a, b))


@numba.njit(cache=True)
def _shingle_sets(data, offsets, classes, ngram):
    n_docs = len(offsets) - 1
    out_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    out = np.empty(max(16, len(data) // 4), dtype=np.uint64)
    scratch = np.empty(256, dtype=np.uint64)
    pos = 0
    for d in range(n_docs):
        need = max_words(offsets[d + 1] - offsets[d])
        if need > len(scratch):
            scratch = np.empty(2 * need, dtype=np.uint64)
        n_words = hash_words(data, offsets[d], offsets[d + 1], classes, _WORD_SEED, scratch)
        count = 0 if n_words == 0 else max(n_words - ngram + 1, 1)
        if pos + count > len(out):
            grown = np.empty(max(2 * len(out), pos + count), dtype=np.uint64)
            grown[:pos] = out[:pos]
            out = grown
        if n_words > 0 and n_words < ngram:
            out[pos] = _shingle(scratch, 0, n_words)
        else:
            for i in range(count):
                out[pos + i] = _shingle(scratch, i, ngram)
        uniq = np.unique(out[pos : pos + count])
        out[pos : pos + len(uniq)] = uniq
        pos += len(uniq)
        out_offsets[d + 1] = pos
    return out[:pos].copy(), out_offsets


def shingle_sets(texts: pa.Array | pa.ChunkedArray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct shingle hashes of every text: (uint64 values, int64 offsets of len + 1)."""
    data, offsets = utf8_buffers(texts)
    return _shingle_sets(data, offsets, char_classes(), np.int64(ngram))


def signatures_from_shingles(
    values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 1 << 14
) -> np.ndarray:
    """The same signatures computed with plain numpy from shingle hashes (reference and baseline)."""
    n_docs = len(offsets) - 1
    sig = np.full((n_docs, len(a)), EMPTY, dtype=np.uint32)
    lengths = np.diff(offsets)
    doc_of = np.repeat(np.arange(n_docs), lengths)
    for lo in range(0, len(values), chunk):
        x = (values[lo : lo + chunk] >> np.uint64(32))[:, None]
        h = ((a[None, :] * x + b[None, :]) >> np.uint64(32)).astype(np.uint32)
        docs = doc_of[lo : lo + chunk]
        starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        mins = np.minimum.reduceat(h, starts, axis=0)
        rows = docs[starts]
        sig[rows] = np.minimum(sig[rows], mins)
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per band (len(sig) x bands): a hash of the band's `rows` signature values."""
    if bands * rows > sig.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} hashes, signature has {sig.shape[1]}")
    block = sig[:, : bands * rows].reshape(len(sig), bands, rows).astype(np.uint64)
    h = np.full((len(sig), bands), np.uint64(rows), dtype=np.uint64)
    for t in range(rows):
        h = h * _POLY + block[:, :, t]
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


@numba.njit(cache=True)
def _intersection_sizes(va, a_start, a_end, vb, b_start, b_end):
    out = np.zeros(len(a_start), dtype=np.int64)
    for i in range(len(a_start)):
        p, p_end, q, q_end = a_start[i], a_end[i], b_start[i], b_end[i]
        count = 0
        while p < p_end and q < q_end:
            x, y = va[p], vb[q]
            if x == y:
                count += 1
                p += 1
                q += 1
            elif x < y:
                p += 1
            else:
                q += 1
        out[i] = count
    return out


def intersection_sizes(
    va: np.ndarray, a_start: np.ndarray, a_end: np.ndarray, vb: np.ndarray, b_start: np.ndarray, b_end: np.ndarray
) -> np.ndarray:
    """|A_i & B_i| of sorted distinct uint64 sets A_i = va[a_start[i]:a_end[i]], B_i = vb[b_start[i]:b_end[i]]."""
    as_int = [np.asarray(x, dtype=np.int64) for x in (a_start, a_end, b_start, b_end)]
    return _intersection_sizes(va, as_int[0], as_int[1], vb, as_int[2], as_int[3])


def jaccard_of_sorted_sets(
    va: np.ndarray, oa: np.ndarray, vb: np.ndarray, ob: np.ndarray
) -> np.ndarray:
    """Exact Jaccard similarity of pairs of sorted distinct uint64 sets given as (values, offsets).

    Pair i is va[oa[i]:oa[i+1]] vs vb[ob[i]:ob[i+1]]; two empty sets have similarity 0.
    """
    inter = intersection_sizes(va, oa[:-1], oa[1:], vb, ob[:-1], ob[1:])
    union = np.diff(oa) + np.diff(ob) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


# the numba kernels of this module, for the run's warm-up (curate.kernels)
SIGNATURE_KERNELS = (_signatures,)
SHINGLE_KERNELS = (_shingle_sets,)
JACCARD_KERNELS = (_intersection_sizes,)
