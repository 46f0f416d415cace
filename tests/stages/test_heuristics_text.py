"""Shared text views and compiled kernels of the heuristic rule sets: tokenizer, hashing,
per-document duplicates and the Gopher n-gram measures, checked against plain-Python
reference implementations of the same definitions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from datatrove.utils.text import PUNCTUATION_SET
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.stages.heuristics import kernels as K
from curate.stages.heuristics.text import TextBatch, hash_strings, split

# ----------------------------------------------------------------------------- tokenizer


def test_tokenizer_splits_like_spacy_on_common_cases():
    text = "Hello, world! It's a dog's life... #tag e-mail 3.5 1,000 don't café… (ok)"
    assert TextBatch(pa.array([text])).token_strings() == [[
        "Hello", ",", "world", "!", "It", "'s", "a", "dog", "'s", "life", "...", "#", "tag", "e", "-",
        "mail", "3.5", "1,000", "do", "n't", "café", "…", "(", "ok", ")",
    ]]


def test_tokenizer_keeps_urls_abbreviations_and_numbers_whole():
    text = "See https://example.com/a-b?x=1, www.example.org) e.g. U.S. p.m. 10:30 1/2 3-4 Dr. X."
    assert TextBatch(pa.array([text])).token_strings() == [[
        "See", "https://example.com/a-b?x=1", ",", "www.example.org", ")", "e.g.", "U.S.", "p.m.", "10:30",
        "1/2", "3", "-", "4", "Dr.", "X.",  # spaCy: "Dr." is an exception, "X." keeps its dot
    ]]


def test_tokenizer_flags_lengths_and_document_offsets():
    batch = TextBatch(pa.array(["naïve résumé — 42", "", None, "x"]))
    assert batch.token_strings() == [["naïve", "résumé", "—", "42"], [], [], ["x"]]
    tok = batch.tokens
    assert list(tok.offsets) == [0, 4, 4, 4, 5]
    assert list(tok.lengths) == [5, 6, 1, 2, 1]
    assert list(tok.is_alpha) == [True, True, False, False, True]
    assert list(tok.is_symbol) == [False, False, True, False, False]
    assert list(batch.chars) == [17, 0, 0, 1]


_PIECES = st.sampled_from(list("abcXYZ019 .,'’-#…!?:/\n\t_") + ["é", "ß", "中", "😀", "\u00a0", "\u2028", "http://",
                                                               "www.", "https://x"])
_TEXTS = st.lists(_PIECES, max_size=30).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXTS, min_size=1, max_size=6))
def test_tokens_partition_the_non_space_characters(texts):
    batch = TextBatch(pa.array(texts))
    tokens = batch.token_strings()
    tok = batch.tokens
    k = 0
    for text, words in zip(texts, tokens):
        assert "".join(words) == "".join(ch for ch in text if not ch.isspace())
        for w in words:
            assert w and not any(ch.isspace() for ch in w)
            assert tok.lengths[k] == len(w)
            assert bool(tok.is_alpha[k]) == any(ch.isalpha() for ch in w)
            symbol = all(ch in PUNCTUATION_SET for ch in w)  # datatrove's definition of a symbol word
            assert bool(tok.is_symbol[k]) == symbol
            k += 1
    assert list(batch.chars) == [len(t) for t in texts]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_any_unicode_text_tokenizes_and_counts_code_points(texts):
    batch = TextBatch(pa.array(texts))
    assert list(batch.chars) == [len(t) for t in texts]
    assert len(batch.token_strings()) == len(texts)


def test_sliced_chunked_and_large_string_inputs_give_the_same_tokens():
    texts = ["one two", "three, four", "five"]
    whole = TextBatch(pa.array(texts)).token_strings()
    assert TextBatch(pa.array(["zero"] + texts).slice(1)).token_strings() == whole
    assert TextBatch(pa.chunked_array([texts[:1], texts[1:]])).token_strings() == whole
    assert TextBatch(pa.array(texts, pa.large_string())).token_strings() == whole


def test_lowercase_hash_matches_hash_of_lowercased_ascii():
    batch = TextBatch(pa.array(["The THE the tHe"]))
    tok = batch.tokens
    assert len(set(tok.hashes)) == 4
    assert set(tok.lower_hashes) == {hash_strings(pa.array(["the"]))[0]}


# ----------------------------------------------------------------------------- hashing / dups


def test_equal_strings_hash_equal_and_distinct_strings_differ():
    values = [f"line {i % 50}" for i in range(500)]
    h = hash_strings(pa.array(values))
    for v, x in zip(values, h):
        assert x == h[values.index(v)]
    assert len(set(h)) == 50


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "", "a b"]), max_size=12), min_size=1, max_size=5))
def test_duplicate_mask_marks_every_repeat_within_a_document(docs):
    seg = split(pa.array(["\n".join(d) for d in docs]), "\n")
    mask = seg.duplicates()
    expected = []
    for d in docs:
        pieces = "\n".join(d).split("\n")
        seen: set[str] = set()
        for p in pieces:
            expected.append(p in seen)
            seen.add(p)
    assert list(mask) == expected


# ----------------------------------------------------------------------------- n-grams

# Reference implementations, written from the definitions (datatrove gopher_repetition_filter).


def ref_top(words: list[str], n: int, chars: int) -> float:
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count / chars


def ref_dup(words: list[str], n: int, chars: int) -> float:
    seen: set[tuple[str, ...]] = set()
    repeated, i = 0, 0
    while i < len(words) - n + 1:
        gram = tuple(words[i:i + n])
        if gram in seen:
            repeated += sum(len(w) for w in gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / chars


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["ab", "cd", "e", "fgh", "ij", "k"]), max_size=60), min_size=1, max_size=4))
def test_ngram_kernel_matches_reference(docs):
    texts = [" ".join(d) for d in docs]
    batch = TextBatch(pa.array(texts))
    tok = batch.tokens
    top_ns = np.array([2, 3, 4], dtype=np.int64)
    dup_ns = np.arange(5, 11, dtype=np.int64)
    top, dup = K.kernels().ngram_repetition(tok.hashes, tok.lengths, tok.offsets, batch.chars, top_ns, dup_ns)
    for d, words in enumerate(docs):
        chars = len(texts[d])
        for k, n in enumerate(top_ns):
            expected = ref_top(words, int(n), chars) if chars else 0.0
            assert top[d, k] == pytest.approx(expected)
        for k, n in enumerate(dup_ns):
            expected = ref_dup(words, int(n), chars) if chars else 0.0
            assert dup[d, k] == pytest.approx(expected)


def test_ngram_ties_go_to_the_first_seen_ngram():
    # every 2-gram occurs once: the first one ("long x") is the "most frequent"
    words = ["long", "x", "y", "z"]
    batch = TextBatch(pa.array([" ".join(words)]))
    tok = batch.tokens
    top, _ = K.kernels().ngram_repetition(tok.hashes, tok.lengths, tok.offsets, batch.chars,
                                          np.array([2], np.int64), np.array([5], np.int64))
    assert top[0, 0] == pytest.approx(len("long x") / len(" ".join(words)))


def test_malformed_utf8_never_reads_out_of_bounds():
    # Arrow validates UTF-8 on most paths, but kernels get raw buffers: a truncated sequence at
    # the end of a document must decode as U+FFFD, not read into the next document
    raw = [b"ok \xf0", b"\xe2\x82", b"x \xff\xc3", b"fine"]
    arr = pa.Array.from_buffers(pa.string(), 4, [None, pa.py_buffer(np.cumsum([0] + [len(r) for r in raw])
                                                                   .astype(np.int32).tobytes()),
                                                 pa.py_buffer(b"".join(raw))])
    batch = TextBatch(arr)
    assert list(batch.chars) == [4, 2, 4, 4]
    assert batch.tokens.per_doc()[3] == 1
