"""The two loop orders of the MinHash kernel give the signatures of the plain numpy reference.

curate.text.minhash computes min_k h_k(x) per document either one shingle at a time (short
documents, on 32-bit halves of the hash parameters) or one hash at a time over blocks of shingles
(long documents); both must equal curate.text.minhash.signatures_from_shingles, which evaluates
h_k(x) = ((a_k x + b_k) mod 2^64) >> 32 with numpy's 64-bit arithmetic, on every length around the
switch and the block size, for odd and even numbers of hashes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.text import minhash as mh


def _random_documents(rng: np.random.Generator, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(0, 2**64, size=int(offsets[-1]), dtype=np.uint64, endpoint=False)
    return values, offsets


@pytest.mark.parametrize("num_perm", [1, 7, 112, 129])
def test_both_loop_orders_equal_numpy_reference(num_perm: int) -> None:
    rng = np.random.default_rng(num_perm)
    short, block = mh._SHORT_DOC, mh._KEY_BLOCK
    lengths = [0, 1, 2, 3, short - 2, short - 1, short, short + 1, block - 1, block, block + 1, 2 * block + 3]
    lengths += rng.integers(0, 3 * short, size=40).tolist()
    values, offsets = _random_documents(rng, lengths)
    a, b = mh.permutations(num_perm, seed=num_perm)
    sig = mh.signatures_of_shingle_hashes(values, offsets, a, b)
    assert sig.shape == (len(lengths), num_perm)
    assert (sig == mh.signatures_from_shingles(values, offsets, a, b)).all()
    assert (sig[0] == mh.EMPTY).all()  # no shingle, no hash


def test_extreme_keys_and_parameters() -> None:
    """Keys and parameters at the ends of their ranges, where a carry or overflow would show."""
    keys = np.array([0, 1, 2**32 - 1, 2**31, 2**32 - 2], dtype=np.uint64) << np.uint64(32)
    values = np.concatenate([keys, keys | np.uint64(0xFFFFFFFF)])
    offsets = np.array([0, 1, 2, 3, 5, 10], dtype=np.int64)
    a = np.array([0, 1, 2**64 - 1, 2**63, 2**32 - 1, 2**32, 0xFFFFFFFF00000001], dtype=np.uint64)
    b = np.array([0, 2**64 - 1, 2**64 - 1, 2**32 - 1, 2**63 + 5, 1, 0xFFFFFFFF], dtype=np.uint64)
    expected = mh.signatures_from_shingles(values, offsets, a, b)
    assert (mh.signatures_of_shingle_hashes(values, offsets, a, b) == expected).all()
    long_doc = np.repeat(values, 20)  # 200 shingles: the per-hash loop
    long_off = np.array([0, len(long_doc)], dtype=np.int64)
    assert (mh.signatures_of_shingle_hashes(long_doc, long_off, a, b)
            == mh.signatures_from_shingles(long_doc, long_off, a, b)).all()


def test_text_kernel_equals_shingle_hash_kernel_on_long_and_short_documents() -> None:
    rng = np.random.default_rng(5)
    vocab = [f"t{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(vocab, size=int(n))) for n in [0, 3, 5, 40, 68, 69, 70, 300, 5000]]
    a, b = mh.permutations(112, seed=2)
    sig, n_shingles = mh.signatures(pa.array(texts), 5, a, b)
    values, offsets = mh.shingle_sets(pa.array(texts), 5)
    assert n_shingles.tolist() == [0, 1, 1, 36, 64, 65, 66, 296, 4996]
    assert (sig == mh.signatures_of_shingle_hashes(values, offsets, a, b)).all()
