"""Exact set-similarity self-join by prefix filtering: every pair of documents whose shingle sets
have Jaccard similarity >= t, without looking at all pairs that share a shingle.

The truth for dedup quality on corpora full of boilerplate (templated HTML shares thousands of
shingles among tens of thousands of pages, so the sparse product of bench/dedup.py true_pairs,
whose cost is the sum over shingles of their document frequency squared, does not finish).

Prefix filter (S. Chaudhuri, V. Ganti, R. Kaushik, "A Primitive Operator for Similarity Joins in
Data Cleaning", ICDE 2006; R. Bayardo, Y. Ma, R. Srikant, "Scaling Up All Pairs Similarity
Search", WWW 2007, section 4): order every set's tokens by one global order (here rarest first,
ties by token value); if J(x, y) >= t then the first |x| - ceil(t |x|) + 1 tokens of x and the
first |y| - ceil(t |y|) + 1 tokens of y share a token. So the pairs sharing a prefix token are a
superset of the answer; with the length filter (J <= min(|x|, |y|) / max(|x|, |y|)) they are the
candidates, and each candidate's exact Jaccard decides. Nothing is estimated: the result is
exact. Sets are curate.text.minhash.shingle_sets (sorted distinct 64-bit shingle hashes).
"""

from __future__ import annotations

import numba
import numpy as np

from curate.text.minhash import intersection_sizes

MAX_CANDIDATES = 400_000_000


@numba.njit(cache=True)
def _candidates(group_bounds, docs, sizes, t, n_docs, out):
    """Pairs of documents sharing a prefix token that pass the length filter, packed as
    i * n_docs + j (i < j, with repeats) into `out`; with an empty `out` only counted."""
    k = 0
    for g in range(len(group_bounds) - 1):
        lo, hi = group_bounds[g], group_bounds[g + 1]
        for p in range(lo, hi):
            for q in range(p + 1, hi):
                a, b = sizes[docs[p]], sizes[docs[q]]
                if min(a, b) >= t * max(a, b):
                    if len(out):
                        out[k] = np.int64(min(docs[p], docs[q])) * n_docs + max(docs[p], docs[q])
                    k += 1
    return k


@numba.njit(cache=True)
def _prefix_length(size, t):
    return size - np.int64(np.ceil(t * size - 1e-9)) + 1 if size > 0 else 0


@numba.njit(cache=True)
def _prefixes(offsets, rank, t):
    """(token rank, document) of every document's prefix: its rarest tokens, in document order."""
    total = 0
    for d in range(len(offsets) - 1):
        total += _prefix_length(offsets[d + 1] - offsets[d], t)
    tokens = np.empty(total, dtype=np.int32)
    docs = np.empty(total, dtype=np.int32)
    k = 0
    for d in range(len(offsets) - 1):
        lo, hi = offsets[d], offsets[d + 1]
        p = _prefix_length(hi - lo, t)
        if p:
            tokens[k : k + p] = np.sort(rank[lo:hi])[:p]
            docs[k : k + p] = d
            k += p
    return tokens, docs


def _prefix_groups(values: np.ndarray, offsets: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Documents of every prefix token, token by token: (group bounds, documents)."""
    _, token, df = np.unique(values, return_inverse=True, return_counts=True)
    rank_of_token = np.empty(len(df), dtype=np.int32)
    rank_of_token[np.lexsort((np.arange(len(df)), df))] = np.arange(len(df), dtype=np.int32)  # rarest first
    rank = rank_of_token[token]
    del token, df, rank_of_token
    prefix_token, prefix_doc = _prefixes(offsets, rank, t)
    del rank
    order = np.argsort(prefix_token, kind="stable")  # documents stay in order within a token
    prefix_token, prefix_doc = prefix_token[order], prefix_doc[order]
    bounds = np.flatnonzero(np.r_[True, prefix_token[1:] != prefix_token[:-1], True]).astype(np.int64)
    return bounds, prefix_doc


def candidate_count(values: np.ndarray, offsets: np.ndarray, t: float) -> int:
    """How many candidate pairs (with repeats) :func:`pairs_at_least` would verify."""
    if len(values) == 0:
        return 0
    offsets = offsets.astype(np.int64)
    bounds, docs = _prefix_groups(values, offsets, t)
    return int(_candidates(bounds, docs, np.diff(offsets), t, len(offsets) - 1, np.zeros(0, dtype=np.int64)))


def pairs_at_least(values: np.ndarray, offsets: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, Jaccard) of every pair i < j of non-empty sets with Jaccard >= t (0 < t <= 1)."""
    n = len(offsets) - 1
    offsets = offsets.astype(np.int64)
    sizes = np.diff(offsets)
    if len(values) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    bounds, prefix_doc = _prefix_groups(values, offsets, t)
    count = _candidates(bounds, prefix_doc, sizes, t, n, np.zeros(0, dtype=np.int64))
    if count > MAX_CANDIDATES:
        raise RuntimeError(f"{count:,} candidate pairs: too many for this join")
    packed = np.empty(count, dtype=np.int64)
    _candidates(bounds, prefix_doc, sizes, t, n, packed)
    packed = np.unique(packed)
    left, right = packed // n, packed % n
    both = intersection_sizes(values, offsets[left], offsets[left + 1], values, offsets[right], offsets[right + 1])
    jac = both / (sizes[left] + sizes[right] - both)
    hit = jac >= t
    return left[hit], right[hit], jac[hit]
