"""Word segmentation and XXH64 word hashing over the UTF-8 buffers of an Arrow string array.

Definition (shared by MinHash dedup and anything else that needs "words"): text is lowercased
(Arrow ``utf8_lower``); a word is a maximal run of Unicode letters, digits or combining marks
(general categories L*, N*, M*; marks are included so that Indic and Arabic words are not cut at
every vowel sign); every other character (punctuation, symbols, spaces) separates words. In the
scripts written without spaces between words (Han, Hiragana, Katakana, Bopomofo, Thai, Lao,
Khmer, Myanmar) every letter is a word of its own. Korean (Hangul) is written with spaces and is
segmented like Latin text.

The kernels are compiled with numba and walk the Arrow buffers directly: no Python call per word
or per document.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.lean_imports import import_numba
from curate.text import utf8
from curate.text.table_cache import cached_table

numba = import_numba()  # without numba's SciPy probes (curate/lean_imports.py)

SEPARATOR, WORD, SOLO = 0, 1, 2
N_CODEPOINTS = 0x110000

# Unicode blocks of scripts written without spaces between words; their letters are SOLO words.
_NO_SPACE_BLOCKS = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals supplement, Kangxi radicals
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31A0, 0x31FF),  # Bopomofo extended, CJK strokes, Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # halfwidth Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B-H, compatibility supplement (planes 2 and 3)
)


# Planes holding letters, digits or marks: 0-3 (BMP, SMP, CJK extensions) and 14 (variation
# selectors supplement, category Mn). Planes 4-13 are unassigned and 15-16 are private use, so
# their code points stay separators; skipping them makes the table 3x faster to build.
_WORD_PLANES = ((0x00000, 0x40000), (0xE0000, 0xF0000))


@functools.cache
def char_classes() -> np.ndarray:
    """Class (SEPARATOR / WORD / SOLO) of every code point, as a uint8 lookup table."""
    return cached_table("char_classes", _build_char_classes)


def _build_char_classes() -> np.ndarray:
    table = np.zeros(N_CODEPOINTS, dtype=np.uint8)
    for lo, hi in _WORD_PLANES:
        word = [unicodedata.category(chr(cp))[0] in "LNM" for cp in range(lo, hi)]
        table[lo + np.flatnonzero(word)] = WORD
    for lo, hi in _NO_SPACE_BLOCKS:
        block = table[lo : hi + 1]
        block[block == WORD] = SOLO
    return table


def words(text: str) -> list[str]:
    """Reference (pure Python, slow) segmentation of one text: the definition the kernels implement."""
    classes = char_classes()
    out: list[str] = []
    current: list[str] = []
    for ch in text.lower():
        cls = classes[ord(ch)]
        if cls == WORD:
            current.append(ch)
            continue
        if current:
            out.append("".join(current))
            current = []
        if cls == SOLO:
            out.append(ch)
    if current:
        out.append("".join(current))
    return out


def utf8_buffers(texts: pa.Array | pa.ChunkedArray, lower: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Lowercased UTF-8 bytes and int64 offsets (len + 1) of a string array; nulls become empty."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    if lower:
        texts = pc.utf8_lower(texts)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    off_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    _, off_buf, data_buf = texts.buffers()
    n = len(texts)
    offsets = np.frombuffer(off_buf, dtype=off_type)[texts.offset : texts.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data, offsets


# --- XXH64 (Yann Collet, https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md) ----------
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_U1, _U7, _U8, _U11, _U12, _U16 = (np.uint64(v) for v in (1, 7, 8, 11, 12, 16))
_U18, _U23, _U24, _U27, _U29 = (np.uint64(v) for v in (18, 23, 24, 27, 29))
_U31, _U32, _U33, _U40, _U48, _U56, _U64 = (np.uint64(v) for v in (31, 32, 33, 40, 48, 56, 64))


@numba.njit(inline="always")
def _rotl(x, r):
    return (x << r) | (x >> (_U64 - r))


@numba.njit(inline="always")
def _read64(data, i):
    return (
        np.uint64(data[i]) | (np.uint64(data[i + 1]) << _U8) | (np.uint64(data[i + 2]) << _U16)
        | (np.uint64(data[i + 3]) << _U24) | (np.uint64(data[i + 4]) << _U32)
        | (np.uint64(data[i + 5]) << _U40) | (np.uint64(data[i + 6]) << _U48)
        | (np.uint64(data[i + 7]) << _U56)
    )


@numba.njit(inline="always")
def _read32(data, i):
    return (
        np.uint64(data[i]) | (np.uint64(data[i + 1]) << _U8) | (np.uint64(data[i + 2]) << _U16)
        | (np.uint64(data[i + 3]) << _U24)
    )


@numba.njit(inline="always")
def _round(acc, lane):
    acc = acc + lane * _P2
    acc = _rotl(acc, _U31)
    return acc * _P1


@numba.njit(inline="always")
def _merge(acc, v):
    acc = acc ^ _round(np.uint64(0), v)
    return acc * _P1 + _P4


@numba.njit(cache=True)
def xxh64(data, start, end, seed):
    """XXH64 of data[start:end] (uint8 array) with a uint64 seed; equals xxhash.xxh64_intdigest."""
    length = np.uint64(end - start)
    i = start
    if end - start >= 32:
        v1 = seed + _P1 + _P2
        v2 = seed + _P2
        v3 = seed
        v4 = seed - _P1
        while i + 32 <= end:
            v1 = _round(v1, _read64(data, i))
            v2 = _round(v2, _read64(data, i + 8))
            v3 = _round(v3, _read64(data, i + 16))
            v4 = _round(v4, _read64(data, i + 24))
            i += 32
        h = _rotl(v1, _U1) + _rotl(v2, _U7) + _rotl(v3, _U12) + _rotl(v4, _U18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = seed + _P5
    h = h + length
    while i + 8 <= end:
        h = h ^ _round(np.uint64(0), _read64(data, i))
        h = _rotl(h, _U27) * _P1 + _P4
        i += 8
    if i + 4 <= end:
        h = h ^ (_read32(data, i) * _P1)
        h = _rotl(h, _U23) * _P2 + _P3
        i += 4
    while i < end:
        h = h ^ (np.uint64(data[i]) * _P5)
        h = _rotl(h, _U11) * _P1
        i += 1
    h = h ^ (h >> _U33)
    h = h * _P2
    h = h ^ (h >> _U29)
    h = h * _P3
    return h ^ (h >> _U32)


# UTF-8 decoding shared with the heuristics kernels; malformed bytes decode as U+FFFD, a separator.
_decode = numba.njit(inline="always")(utf8.decode)


@numba.njit(cache=True)
def hash_words(data, start, end, classes, seed, out):
    """Write the XXH64 hash of every word of data[start:end] into `out`; return the word count.

    `out` must hold at least max_words(end - start) values.
    """
    n = 0
    i = start
    word_start = -1
    while i < end:
        cp, width = _decode(data, i, end)
        cls = classes[cp]
        if cls == 1:  # WORD
            if word_start < 0:
                word_start = i
        else:
            if word_start >= 0:
                out[n] = xxh64(data, word_start, i, seed)
                n += 1
                word_start = -1
            if cls == 2:  # SOLO
                out[n] = xxh64(data, i, i + width, seed)
                n += 1
        i += width
    if word_start >= 0:
        out[n] = xxh64(data, word_start, end, seed)
        n += 1
    return n


@numba.njit(inline="always")
def max_words(n_bytes):
    """Upper bound on the words in n_bytes of UTF-8: a word takes one byte and needs a separator,
    except SOLO characters, which take at least three bytes."""
    return (n_bytes + 1) // 2


@numba.njit(cache=True)
def _count_words(data, offsets, classes, seed):
    counts = np.zeros(len(offsets) - 1, dtype=np.int64)
    scratch = np.empty(64, dtype=np.uint64)
    for d in range(len(offsets) - 1):
        need = max_words(offsets[d + 1] - offsets[d])
        if need > len(scratch):
            scratch = np.empty(2 * need, dtype=np.uint64)
        counts[d] = hash_words(data, offsets[d], offsets[d + 1], classes, seed, scratch)
    return counts


@numba.njit(cache=True)
def _fill_words(data, offsets, classes, seed, out_offsets, out):
    scratch = np.empty(64, dtype=np.uint64)
    for d in range(len(offsets) - 1):
        need = max_words(offsets[d + 1] - offsets[d])
        if need > len(scratch):
            scratch = np.empty(2 * need, dtype=np.uint64)
        n = hash_words(data, offsets[d], offsets[d + 1], classes, seed, scratch)
        out[out_offsets[d] : out_offsets[d] + n] = scratch[:n]


def word_hashes(texts: pa.Array | pa.ChunkedArray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """XXH64 hash of every word of every text: (hashes uint64, offsets int64 of len(texts) + 1)."""
    data, offsets = utf8_buffers(texts)
    classes = char_classes()
    useed = np.uint64(seed)
    counts = _count_words(data, offsets, classes, useed)
    out_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_offsets[1:])
    out = np.empty(out_offsets[-1], dtype=np.uint64)
    _fill_words(data, offsets, classes, useed, out_offsets, out)
    return out, out_offsets
