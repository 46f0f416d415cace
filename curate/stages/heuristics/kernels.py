"""Compiled (numba) kernels behind the heuristic signals: token output buffers, string hashing,
per-document duplicate detection and the Gopher n-gram repetition measures.

Each kernel runs over a whole batch (flat arrays plus per-document offsets), so the Python
side makes one call per batch. numba is imported only when a kernel is first needed
(:func:`kernels`), because every module under ``curate.stages`` is imported on stage lookup.
The kernels are plain Python functions here; :func:`kernels` compiles them with
``numba.njit(cache=True)`` and rebinds the module globals, so helpers they call are compiled too.
"""

from __future__ import annotations

import functools
import types
import unicodedata

import numpy as np

from curate.text.table_cache import cached_table
from curate.text.utf8 import decode as _decode  # compiled (inlined) by kernels() with the helpers

# Character classes (one uint8 per Unicode code point, see char_classes()); count_words uses SPACE.
OTHER = 0  # part of a word but not alphabetic: marks, non-decimal numbers, '_', unassigned
ALPHA = 1  # Unicode letters (category L*), i.e. what str.isalpha() accepts
DIGIT = 2  # decimal digits (category Nd)
SPACE = 3  # what str.isspace() accepts: separates tokens
PUNCT = 4  # punctuation (P*), symbols (S*) and control characters: tokens of their own

# Token flags.
FLAG_ALPHA = 1  # token has at least one alphabetic character
FLAG_SYMBOL = 2  # token consists only of punctuation/symbols

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)  # FNV-1a 64-bit (Fowler, Noll, Vo; IETF draft-eastlake-fnv)
_FNV_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, the usual multiplicative-hash constant


@functools.lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """Class (OTHER/ALPHA/DIGIT/SPACE/PUNCT) of every code point, from Python's Unicode database."""
    return cached_table("char_classes", _build_char_classes)


def _build_char_classes() -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    for cp in range(0x110000):
        ch = chr(cp)
        if ch.isspace():
            table[cp] = SPACE
            continue
        cat = unicodedata.category(ch)
        if cat[0] == "L":
            table[cp] = ALPHA
        elif cat == "Nd":
            table[cp] = DIGIT
        elif cat[0] in "PS" or cat == "Cc":
            table[cp] = PUNCT
    table[ord("_")] = OTHER  # identifiers like snake_case stay one word (as in spaCy)
    return table


# --------------------------------------------------------------------------- helpers


def _mix64(x):
    """splitmix64 finalizer (Steele, Lea, Flood 2014): spreads all bits of a 64-bit key."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash_bytes(data, start, end, lower):
    """FNV-1a over data[start:end] (ASCII-lowercased if `lower`), then mixed."""
    h = _FNV_OFFSET
    for q in range(start, end):
        b = data[q]
        if lower and b >= 65 and b <= 90:
            b += 32
        h = (h ^ np.uint64(b)) * _FNV_PRIME
    return _mix64(h)


def _next_pow2(x):
    p = 16
    while p < x:
        p *= 2
    return p


def _probe(keys, stamp, key, current, mask):
    """Slot of `key` in an open-addressing table, or the empty slot where it would go.

    A slot is in use for the current document/pass only if its stamp equals `current`,
    so the table never needs clearing between documents.
    """
    slot = np.int64(key & np.uint64(mask))
    while stamp[slot] == current and keys[slot] != key:
        slot = (slot + 1) & mask
    return slot


# --------------------------------------------------------------------------- kernels


def _hash_strings(data, offsets):
    """64-bit hash of each string of an Arrow string array (data bytes + offsets)."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = _hash_bytes(data, offsets[i], offsets[i + 1], False)
    return out


def _duplicate_mask(keys, seg_offsets):
    """True for every element whose key already occurred earlier in the same segment (document)."""
    n_seg = seg_offsets.shape[0] - 1
    out = np.zeros(keys.shape[0], dtype=np.bool_)
    largest = 0
    for d in range(n_seg):
        largest = max(largest, seg_offsets[d + 1] - seg_offsets[d])
    size = _next_pow2(2 * largest)
    table = np.empty(size, dtype=np.uint64)
    stamp = np.full(size, -1, dtype=np.int64)
    for d in range(n_seg):
        s, e = seg_offsets[d], seg_offsets[d + 1]
        mask = _next_pow2(2 * (e - s)) - 1
        for i in range(s, e):
            slot = _probe(table, stamp, keys[i], d, mask)
            if stamp[slot] == d:
                out[i] = True
            else:
                stamp[slot] = d
                table[slot] = keys[i]
    return out


def _emit(bufs, t, data, start, end, n_chars, flags):
    """Write token `t` (bytes data[start:end]) into the tokenizer's output arrays `bufs`:
    (hashes, lower_hashes, lengths, flags, starts, ends); the hashes are FNV-1a, mixed."""
    hashes, lower, lengths, flag_arr, starts, ends = bufs
    h = _FNV_OFFSET
    hl = _FNV_OFFSET
    for q in range(start, end):
        b = data[q]
        h = (h ^ np.uint64(b)) * _FNV_PRIME
        if b >= 65 and b <= 90:
            b += 32
        hl = (hl ^ np.uint64(b)) * _FNV_PRIME
    hashes[t] = _mix64(h)
    lower[t] = _mix64(hl)
    lengths[t] = n_chars
    flag_arr[t] = flags
    starts[t] = start
    ends[t] = end


def _grow_tokens(bufs, cap):
    hashes, lower, lengths, flags, starts, ends = bufs
    n = hashes.shape[0]
    out = (
        np.empty(cap, dtype=np.uint64),
        np.empty(cap, dtype=np.uint64),
        np.empty(cap, dtype=np.int32),
        np.empty(cap, dtype=np.uint8),
        np.empty(cap, dtype=np.int64),
        np.empty(cap, dtype=np.int64),
    )
    out[0][:n] = hashes
    out[1][:n] = lower
    out[2][:n] = lengths
    out[3][:n] = flags
    out[4][:n] = starts
    out[5][:n] = ends
    return out


def _count_words(data, offsets, classes):
    """Whitespace-separated words in each string, as len(str.split())."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        p = offsets[i]
        end = offsets[i + 1]
        inside = False
        count = 0
        while p < end:
            cp, nb = _decode(data, p, end)
            if classes[cp] == SPACE:
                inside = False
            elif not inside:
                inside = True
                count += 1
            p += nb
        out[i] = count
    return out


def _distinct_members(hashes, offsets, keys):
    """Per document: how many distinct `keys` occur among its token `hashes` (stop-word count)."""
    n_docs = offsets.shape[0] - 1
    mask = _next_pow2(4 * keys.shape[0]) - 1
    table = np.empty(mask + 1, dtype=np.uint64)
    index = np.full(mask + 1, -1, dtype=np.int64)
    for k in range(keys.shape[0]):
        slot = np.int64(keys[k] & np.uint64(mask))
        while index[slot] != -1 and table[slot] != keys[k]:
            slot = (slot + 1) & mask
        table[slot] = keys[k]
        index[slot] = k
    last_doc = np.full(keys.shape[0], -1, dtype=np.int64)
    out = np.zeros(n_docs, dtype=np.int64)
    for d in range(n_docs):
        for i in range(offsets[d], offsets[d + 1]):
            h = hashes[i]
            slot = np.int64(h & np.uint64(mask))
            while index[slot] != -1:
                if table[slot] == h:
                    k = index[slot]
                    if last_doc[k] != d:
                        last_doc[k] = d
                        out[d] += 1
                    break
                slot = (slot + 1) & mask
    return out


def _ngram_repetition(hashes, lengths, doc_tok, doc_chars, top_ns, dup_ns):
    """Gopher n-gram repetition per document (Rae et al. 2021, App. A, Table A1).

    top[d, k]: characters of the most frequent `top_ns[k]`-gram (joined by single spaces)
    times its count, over the document's characters; ties go to the n-gram seen first.
    dup[d, k]: characters of the words in repeated `dup_ns[k]`-grams over the document's
    characters, scanning left to right and skipping past each repeat so overlapping repeats
    count once. Both follow datatrove's GopherRepetitionFilter (find_top_duplicate,
    find_all_duplicate) so the two agree on the same tokens.
    """
    n_docs = doc_tok.shape[0] - 1
    top = np.zeros((n_docs, top_ns.shape[0]), dtype=np.float64)
    dup = np.zeros((n_docs, dup_ns.shape[0]), dtype=np.float64)
    max_n = 1
    for k in range(top_ns.shape[0]):
        max_n = max(max_n, top_ns[k])
    for k in range(dup_ns.shape[0]):
        max_n = max(max_n, dup_ns[k])
    largest = 0
    for d in range(n_docs):
        largest = max(largest, doc_tok[d + 1] - doc_tok[d])
    size = _next_pow2(2 * largest)
    table = np.empty(size, dtype=np.uint64)
    counts = np.zeros(size, dtype=np.int64)
    stamp = np.full(size, -1, dtype=np.int64)
    grams = np.empty(max(largest, 1), dtype=np.uint64)
    slots = np.empty(max(largest, 1), dtype=np.int64)
    # prefix sums of token lengths: characters of tokens i..i+n-1 in O(1)
    cum = np.zeros(hashes.shape[0] + 1, dtype=np.int64)
    for i in range(hashes.shape[0]):
        cum[i + 1] = cum[i] + lengths[i]
    current = -1
    for d in range(n_docs):
        s = doc_tok[d]
        m = doc_tok[d + 1] - s
        chars = doc_chars[d]
        if m == 0 or chars == 0:
            continue
        mask = _next_pow2(2 * m) - 1
        for i in range(m):
            grams[i] = hashes[s + i]
        for n in range(2, max_n + 1):
            if m < n:
                break
            n_grams = m - n + 1
            for i in range(n_grams):
                grams[i] = _mix64(grams[i] * _GOLDEN + hashes[s + i + n - 1])
            for k in range(top_ns.shape[0]):
                if top_ns[k] != n:
                    continue
                current += 1
                for i in range(n_grams):
                    slot = _probe(table, stamp, grams[i], current, mask)
                    if stamp[slot] != current:
                        stamp[slot] = current
                        table[slot] = grams[i]
                        counts[slot] = 0
                    counts[slot] += 1
                    slots[i] = slot
                best = 0
                best_i = 0
                for i in range(n_grams):
                    c = counts[slots[i]]
                    if c > best:
                        best = c
                        best_i = i
                gram_chars = cum[s + best_i + n] - cum[s + best_i] + (n - 1)
                top[d, k] = best * gram_chars / chars
            for k in range(dup_ns.shape[0]):
                if dup_ns[k] != n:
                    continue
                current += 1
                repeated = 0
                i = 0
                while i < n_grams:
                    slot = _probe(table, stamp, grams[i], current, mask)
                    if stamp[slot] == current:
                        repeated += cum[s + i + n] - cum[s + i]
                        i += n
                    else:
                        stamp[slot] = current
                        table[slot] = grams[i]
                        i += 1
                dup[d, k] = repeated / chars
    return top, dup


_HELPERS = ("_mix64", "_decode", "_hash_bytes", "_next_pow2", "_probe", "_emit", "_grow_tokens")
_INLINE = ("_decode", "_emit")  # inlined in numba IR: no call or refcount per character
_KERNELS = ("_hash_strings", "_count_words", "_duplicate_mask", "_distinct_members", "_ngram_repetition")


def njit_namespace(g: dict, helpers: tuple[str, ...], inline: tuple[str, ...],
                   kernel_names: tuple[str, ...]) -> types.SimpleNamespace:
    """Compile a module's helpers in place (rebinding its globals `g`, so kernels calling them
    call compiled code) and return its kernels, compiled, by name without the leading "_"."""
    from curate.lean_imports import import_numba

    numba = import_numba()

    for name in helpers:
        if not isinstance(g[name], numba.core.dispatcher.Dispatcher):
            g[name] = numba.njit(cache=True, inline="always" if name in inline else "never")(g[name])
    return types.SimpleNamespace(**{name.lstrip("_"): numba.njit(cache=True)(g[name]) for name in kernel_names})


@functools.lru_cache(maxsize=1)
def kernels() -> types.SimpleNamespace:
    """Compile the kernels (once per process; numba caches machine code on disk)."""
    return njit_namespace(globals(), _HELPERS, _INLINE, _KERNELS)
