"""The MinHash kernel: word segmentation, word/shingle hashing, signatures, band keys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.text import minhash as mh
from curate.text.words import word_hashes, words

VOCAB = [f"w{i}x" for i in range(5000)]


def _jaccard(x: np.ndarray, y: np.ndarray) -> float:
    inter = len(np.intersect1d(x, y, assume_unique=True))
    union = len(x) + len(y) - inter
    return inter / union if union else 1.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, World! It's 2024.", ["hello", "world", "it", "s", "2024"]),
        ("Ünïcode CAFÉ—naïve", ["ünïcode", "café", "naïve"]),
        ("e\u0301te", ["e\u0301te"]),  # a combining mark stays inside its word
        ("中文字 and テスト", ["中", "文", "字", "and", "テ", "ス", "ト"]),
        ("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]),
        ("한국어 문장", ["한국어", "문장"]),  # Hangul is written with spaces: ordinary words
        ("   ...!!! ", []),
        ("", []),
    ],
)
def test_words_definition(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=20))
def test_word_hash_kernel_matches_reference_and_xxhash(texts: list[str]) -> None:
    hashes, offsets = word_hashes(pa.array(texts))
    for i, text in enumerate(texts):
        expected = [xxhash.xxh64_intdigest(w.encode("utf-8")) for w in words(text)]
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == expected


def test_word_hashes_of_long_words_use_xxh64_long_path() -> None:
    texts = ["a" * n for n in (1, 3, 4, 7, 8, 31, 32, 33, 64, 100)]
    hashes, _ = word_hashes(pa.array(texts))
    assert hashes.tolist() == [xxhash.xxh64_intdigest(t.encode()) for t in texts]


def test_nulls_and_sliced_and_large_string_arrays() -> None:
    base = pa.array(["x y", None, "one two three", "four"])
    h_all, off_all = word_hashes(base)
    assert np.diff(off_all).tolist() == [2, 0, 3, 1]
    h_slice, off_slice = word_hashes(base.slice(2, 2))
    assert h_slice.tolist() == h_all[off_all[2] :].tolist()
    h_large, _ = word_hashes(base.cast(pa.large_string()))
    assert h_large.tolist() == h_all.tolist()
    h_chunked, _ = word_hashes(pa.chunked_array([base.slice(0, 2), base.slice(2)]))
    assert h_chunked.tolist() == h_all.tolist()


def test_short_documents_are_one_shingle_and_empty_ones_have_none() -> None:
    texts = pa.array(["one two", "one two three", "", "!!!", "a b c d e f"])
    values, offsets = mh.shingle_sets(texts, ngram=5)
    assert np.diff(offsets).tolist() == [1, 1, 0, 0, 2]
    # the whole sequence is the shingle, so a prefix of a short document is a different shingle
    assert values[0] != values[1]
    a, b = mh.permutations(16, seed=0)
    sig, n_shingles = mh.signatures(texts, 5, a, b)
    assert n_shingles.tolist() == [1, 1, 0, 0, 2]
    assert (sig[2] == mh.EMPTY).all() and (sig[3] == mh.EMPTY).all()
    assert not (sig[0] == sig[1]).all()


def test_shingles_depend_on_word_order_and_not_on_case_or_punctuation() -> None:
    texts = pa.array(["The cat sat on the mat today", "the CAT, sat on -- the mat; today!", "cat the sat on the mat today"])
    values, offsets = mh.shingle_sets(texts, ngram=5)
    first, second, third = (values[offsets[i] : offsets[i + 1]] for i in range(3))
    assert first.tolist() == second.tolist()
    assert _jaccard(first, third) < 1.0


def test_compiled_signatures_equal_numpy_reference() -> None:
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(VOCAB, size=int(rng.integers(0, 300)))) for _ in range(200)]
    a, b = mh.permutations(112, seed=7)
    sig, n_shingles = mh.signatures(pa.array(texts), 5, a, b)
    values, offsets = mh.shingle_sets(pa.array(texts), 5)
    assert (mh.signatures_from_shingles(values, offsets, a, b) == sig).all()
    assert (n_shingles >= np.diff(offsets)).all()  # counts include repeated shingles


def test_permutations_are_seeded() -> None:
    a0, b0 = mh.permutations(112, 0)
    a0b, b0b = mh.permutations(112, 0)
    a1, _ = mh.permutations(112, 1)
    assert (a0 == a0b).all() and (b0 == b0b).all()
    assert not (a0 == a1).any()


def _mutate(rng: np.random.Generator, base: np.ndarray, rate: float) -> np.ndarray:
    out = base.copy()
    n_edits = int(round(rate * len(base)))
    out[rng.choice(len(base), size=n_edits, replace=False)] = rng.choice(VOCAB, size=n_edits)
    return out


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_words=st.integers(5, 400),
    rate=st.floats(0.0, 0.6),
    ngram=st.integers(1, 6),
)
def test_estimated_jaccard_is_close_to_true_jaccard(seed: int, n_words: int, rate: float, ngram: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.choice(VOCAB, size=n_words)
    texts = pa.array([" ".join(base), " ".join(_mutate(rng, base, rate))])
    values, offsets = mh.shingle_sets(texts, ngram)
    true_j = _jaccard(values[offsets[0] : offsets[1]], values[offsets[1] : offsets[2]])
    k = 512
    a, b = mh.permutations(k, seed)
    sig, _ = mh.signatures(texts, ngram, a, b)
    estimate = float((sig[0] == sig[1]).mean())
    # standard deviation sqrt(J(1-J)/k) <= 0.022; 5 sigma plus the chance of hash collisions
    assert abs(estimate - true_j) <= 5 * np.sqrt(max(true_j * (1 - true_j), 0.01) / k) + 0.01


def test_estimates_are_unbiased_over_many_pairs() -> None:
    rng = np.random.default_rng(3)
    texts, truth = [], []
    for _ in range(300):
        base = rng.choice(VOCAB, size=int(rng.integers(50, 300)))
        texts += [" ".join(base), " ".join(_mutate(rng, base, float(rng.uniform(0.0, 0.3))))]
    values, offsets = mh.shingle_sets(pa.array(texts), 5)
    for i in range(0, len(texts), 2):
        truth.append(_jaccard(values[offsets[i] : offsets[i + 1]], values[offsets[i + 1] : offsets[i + 2]]))
    a, b = mh.permutations(112, seed=11)
    sig, _ = mh.signatures(pa.array(texts), 5, a, b)
    estimates = (sig[0::2] == sig[1::2]).mean(axis=1)
    errors = estimates - np.array(truth)
    assert abs(errors.mean()) < 0.01  # standard error of the mean is about 0.0025
    assert 0.5 < (errors**2).mean() / np.mean(np.array(truth) * (1 - np.array(truth)) / 112) < 1.6


def test_band_keys_equal_exactly_when_band_values_equal() -> None:
    sig = np.array([[1, 2, 3, 4, 5, 6], [1, 2, 3, 9, 9, 9], [7, 2, 3, 4, 5, 6]], dtype=np.uint32)
    keys = mh.band_keys(sig, bands=2, rows=3)
    assert keys[0, 0] == keys[1, 0] and keys[0, 1] != keys[1, 1]
    assert keys[0, 1] == keys[2, 1] and keys[0, 0] != keys[2, 0]
    with pytest.raises(ValueError):
        mh.band_keys(sig, bands=3, rows=3)
