"""Shared text views for the heuristic rule sets: lines, paragraphs and word tokens of a batch.

A :class:`TextBatch` wraps one batch's ``text`` column and computes each view once, on first
use, so the composite ``heuristics`` stage tokenizes a batch once for all rule sets. Every
view is flat over the batch (one Arrow array or numpy array for all documents) with
per-document offsets; per-document sums are ``np.bincount`` over parent indices.

Word tokens are spaCy's English tokens (spacy_words.py), the words datatrove's Gopher, FineWeb
and C4 filters count; a token is alphabetic if it has a letter (``str.isalpha``) and a symbol if
all its characters are in datatrove's punctuation set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.stages.heuristics import kernels as _k
from curate.stages.heuristics import spacy_words
from curate.text.utf8 import string_buffers


@dataclass(frozen=True)
class Segments:
    """Pieces of every document (lines, paragraphs, ...) flattened into one array.

    ``values[offsets[d]:offsets[d+1]]`` are document d's pieces; ``parent[i]`` is the document of
    piece i.
    """

    values: pa.Array
    offsets: np.ndarray
    parent: np.ndarray

    @classmethod
    def from_lists(cls, lists: pa.Array) -> Segments:
        """Flatten a list<string> array (one list per document)."""
        counts = as_numpy(pc.list_value_length(lists)).astype(np.int64, copy=False)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        parent = as_numpy(pc.list_parent_indices(lists)).astype(np.int64, copy=False)
        return cls(pc.list_flatten(lists), offsets, parent)

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    def per_doc(self) -> np.ndarray:
        """Number of pieces of each document."""
        return np.diff(self.offsets)

    def sum(self, weights: np.ndarray | pa.Array) -> np.ndarray:
        """Per-document sum of a per-piece value (booleans count)."""
        return per_doc_sum(self.parent, weights, self.n_docs)

    def select(self, keep: np.ndarray | pa.Array) -> Segments:
        """The pieces where `keep` is true, with offsets recomputed."""
        keep = as_numpy(keep).astype(bool, copy=False)
        counts = per_doc_sum(self.parent, keep, self.n_docs).astype(np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        return Segments(self.values.filter(pa.array(keep)), offsets, self.parent[keep])

    def lengths(self) -> np.ndarray:
        """Length of each piece in code points."""
        return as_numpy(pc.utf8_length(self.values)).astype(np.int64, copy=False)

    def duplicates(self) -> np.ndarray:
        """True for each piece equal to an earlier piece of the same document."""
        return _k.kernels().duplicate_mask(hash_strings(self.values), self.offsets)


@dataclass(frozen=True)
class Tokens:
    """Word and punctuation tokens of every document, flattened (see the module docstring)."""

    hashes: np.ndarray  # uint64, case-sensitive
    lower_hashes: np.ndarray  # uint64, ASCII-lowercased before hashing
    lengths: np.ndarray  # int32, code points
    flags: np.ndarray  # uint8, FLAG_ALPHA | FLAG_SYMBOL
    starts: np.ndarray  # int64, byte span of each token in the batch's UTF-8 data
    ends: np.ndarray
    offsets: np.ndarray  # int64, n_docs + 1

    @cached_property
    def parent(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    @property
    def is_alpha(self) -> np.ndarray:
        return (self.flags & _k.FLAG_ALPHA) != 0

    @property
    def is_symbol(self) -> np.ndarray:
        return (self.flags & _k.FLAG_SYMBOL) != 0

    def per_doc(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sum(self, weights: np.ndarray) -> np.ndarray:
        return per_doc_sum(self.parent, weights, len(self.offsets) - 1)


class TextBatch:
    """Lazily computed views of one batch of documents (null text counts as empty)."""

    def __init__(self, text: pa.Array | pa.ChunkedArray):
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
        self.text: pa.Array = pc.fill_null(text, "") if text.null_count else text
        self.n_docs = len(self.text)

    # -- documents ---------------------------------------------------------------------------

    @cached_property
    def chars(self) -> np.ndarray:
        """Length of each document in code points."""
        return self.tokens_and_chars[1]

    def count(self, pattern: str) -> np.ndarray:
        """Occurrences of a literal substring in each document."""
        return as_numpy(pc.count_substring(self.text, pattern)).astype(np.int64, copy=False)

    def contains(self, pattern: str, regex: bool = False) -> np.ndarray:
        fn = pc.match_substring_regex if regex else pc.match_substring
        return as_numpy(fn(self.text, pattern)).astype(bool, copy=False)

    # -- views -------------------------------------------------------------------------------

    @cached_property
    def lines(self) -> Segments:
        """Lines split on "\\n" (the normalize stage has turned "\\r\\n" and "\\r" into "\\n")."""
        return split(self.text, "\n")

    @cached_property
    def splitlines(self) -> Segments:
        """Lines as Python's ``str.splitlines`` gives them (datatrove's Gopher and C4 filters):
        split at every line boundary (``\\r\\n``, ``\\n``, ``\\r``, ``\\v``, ``\\f``, ``\\x1c-\\x1e``,
        ``\\x85``, ``\\u2028``, ``\\u2029``), no empty last line after a final break, none for an
        empty text."""
        pieces = split(self.text, _LINE_BREAK, regex=True)
        ends_with_break = self.contains(f"(?:{_LINE_BREAK})$", regex=True) | (as_numpy(pc.utf8_length(self.text)) == 0)
        last = np.zeros(len(pieces.parent), dtype=bool)
        has_pieces = pieces.per_doc() > 0
        last[pieces.offsets[1:][has_pieces] - 1] = ends_with_break[has_pieces]
        return pieces.select(~last)

    @cached_property
    def tokens(self) -> Tokens:
        return self.tokens_and_chars[0]

    @cached_property
    def tokens_and_chars(self) -> tuple[Tokens, np.ndarray]:
        data, offsets = string_buffers(self.text)
        h, lower, lengths, flags, starts, ends, doc_tok, doc_chars = spacy_words.tokenize(data, offsets)
        return Tokens(h, lower, lengths, flags, starts, ends, doc_tok), doc_chars

    def token_strings(self) -> list[list[str]]:
        """The tokens of each document as Python strings (for tests and inspection, not hot paths)."""
        data, _ = string_buffers(self.text)
        tok = self.tokens
        raw = data.tobytes()
        words = [raw[s:e].decode("utf-8") for s, e in zip(tok.starts, tok.ends)]
        return [words[tok.offsets[d]:tok.offsets[d + 1]] for d in range(self.n_docs)]


# ----------------------------------------------------------------------------- helpers

# The line boundaries of Python's str.splitlines (RE2 syntax).
_LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"


def split(text: pa.Array, pattern: str, regex: bool = False) -> Segments:
    """Split every document on a literal or regex separator into flat :class:`Segments`."""
    lists = pc.split_pattern_regex(text, pattern) if regex else pc.split_pattern(text, pattern)
    return Segments.from_lists(lists)


def per_doc_sum(parent: np.ndarray, weights: np.ndarray | pa.Array, n_docs: int) -> np.ndarray:
    """Sum `weights` (one per piece) into the piece's document."""
    w = as_numpy(weights)
    if w.dtype == bool:
        w = w.astype(np.float64)
    return np.bincount(parent, weights=w, minlength=n_docs)[:n_docs]


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den per document; NaN (stored as null) where the denominator is 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def as_numpy(arr: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """Arrow -> numpy without nulls (a null boolean counts as false, a null number as 0)."""
    if isinstance(arr, np.ndarray):
        return arr
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, False if pa.types.is_boolean(arr.type) else 0)
    return arr.to_numpy(zero_copy_only=False)


def hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit hash of each string (equal strings, equal hashes; collisions ~ n^2 / 2^65)."""
    data, offsets = string_buffers(arr)
    return _k.kernels().hash_strings(data, offsets)


def word_counts(arr: pa.Array) -> np.ndarray:
    """Number of whitespace-separated words of each string (Python's len(s.split()))."""
    data, offsets = string_buffers(arr)
    return _k.kernels().count_words(data, offsets, _k.char_classes())
