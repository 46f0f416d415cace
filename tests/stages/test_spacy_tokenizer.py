"""curate's spaCy-compatible tokenizer (curate/stages/heuristics/spacy_words.py) against spaCy's
own English tokenizer (``spacy.blank("en")``, what datatrove's filters use), and its data file
against what the installed spaCy and datatrove give."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.spacy_tables import OUT, tables
from curate.stages.heuristics.text import TextBatch

NLP = spacy.blank("en")


def spacy_words(text: str) -> list[str]:
    """datatrove's split_into_words: spaCy's tokens, stripped, empty ones dropped."""
    NLP.max_length = len(text) + 10
    return [t for t in (tok.text.strip() for tok in NLP(text)) if t]


def test_data_file_is_what_spacy_and_datatrove_give():
    assert json.loads(OUT.read_text(encoding="utf-8")) == json.loads(json.dumps(tables(), ensure_ascii=False))


CASES = [
    "you can redistribute it and/or modify it", "Acme Inc. and Foo Ltd.", "(c) 2003 (C)2004 ©2020",
    "don't can't cannot gonna Wed id", "e.g. i.e. U.S. p.m. Dr. X. A1. ABC. 3.5. 1,000 10:30 1/2",
    "insertions(+), deletions(-) --help --sort-by=[FIELD,...] -0700 +0000 UTF-8 x=1 a<b",
    "<wk@gnupg.org> http://example.com/a-b?x=1. www.foo.org, .gitignore ..foo a...b",
    "def __init__(self, *args, **kwargs): return self._data[:] + a[len(b):]",
    "'''Return the value.''' \"quoted\" ``~'' $100 US$5 5km² 20°C. 100% +1 +a",
    "word.Next end.\u00a0Next\ttab  two  spaces \u2028 line sep 😀 中文 naïve—résumé",
]


def test_tokens_equal_spacys_on_hand_picked_cases():
    assert TextBatch(pa.array(CASES)).token_strings() == [spacy_words(t) for t in CASES]


_PIECES = st.sampled_from(list("aZé9 .,;:'’\"()[]{}<>-–—_/\\=+*^%$#@!?…\n\t") + [
    "http://", "www.", ".com", "n't", "'s", "Inc.", "and/or", "e.g.", "U.S.", "--", "...", "):", ":)", "km"])


# derandomized: the same 300 examples on every run, so that CI is reproducible (a random search
# found the gap below; run with --hypothesis-seed to explore further)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.lists(_PIECES, max_size=25).map("".join), min_size=1, max_size=5))
def test_tokens_equal_spacys_on_random_texts(texts):
    assert TextBatch(pa.array(texts)).token_strings() == [spacy_words(t) for t in texts]


@pytest.mark.xfail(strict=True, reason="known gap: after a word, a run of four straight quotes is cut into "
                   "two '' suffixes, where spaCy 3.8 gives '' ' ' (found by a random search, 2026-12-08; "
                   "no chunk of the real corpus of docs/heuristics.md differs)")
def test_a_run_of_straight_quotes_after_a_word_splits_as_spacys():
    texts = ["a" + "'" * 4, "x" + "'" * 4]
    assert TextBatch(pa.array(texts)).token_strings() == [spacy_words(t) for t in texts]


# The plain path (spacy_words._plain_chunk): ASCII letters, optionally then one of ", ; :", are
# one token (two) unless a special case is involved. The table facts its proof rests on:


def test_plain_path_facts_hold_in_the_tables():
    from curate.stages.heuristics import spacy_words as sw

    cls = sw.classes()
    letters = [ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    affix_bits = sw.C_PREFIX | sw.C_SUFFIX | sw.C_ICON
    assert not any(cls[c] & affix_bits for c in letters)
    assert all(cls[ord(c)] & sw.C_SUFFIX for c in ",;:")
    assert not any(c.isalpha() for c in sw.tables()["currency"] if len(c) > 1)


_LETTER_CHUNKS = st.one_of(
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=12),
    st.sampled_from(["dont", "Cannot", "gonna", "Im", "id", "Wed", "vs", "and", "or", "etc", "cant", "whats"]),
).flatmap(lambda w: st.sampled_from([w, w + ",", w + ";", w + ":"]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_LETTER_CHUNKS, min_size=1, max_size=30).map(" ".join))
def test_plain_chunks_tokenize_as_spacy_does(text):
    assert TextBatch(pa.array([text])).token_strings() == [spacy_words(text)]
