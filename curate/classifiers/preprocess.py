"""The two ways a text becomes a fastText line: ``curate`` (what curate trains with) and
``fasttext`` (what a public model was trained on).

``fasttext`` is what fastText's own ``predict`` expects: newlines become spaces and nothing else,
so a published model (``lid.176.ftz``, DCLM's quality classifier) scores exactly as raw fastText
does and published thresholds keep their meaning. ``curate`` is described below; every model
``curate train-classifier`` writes records it in its card, and is scored with it.

fastText reads one document per line and splits words on ASCII whitespace, so a document must
become one line. We also lowercase and set ASCII punctuation apart as words, the preprocessing
of fastText's own text-classification tutorial (``tr '[:upper:]' '[:lower:]'`` and
``sed -e "s/\\([.\\!?,'/()]\\)/ \\1 /g"``), so that "thanks?" and "Thanks" both give "thanks".

Definition (:func:`reference` spells it in plain Python; the kernel must agree with it):
cut to ``max_chars`` code points, lowercase (Arrow ``utf8_lower``), put a space on both sides of
each character of ``PUNCTUATION``, turn every run of separators (ASCII whitespace, NUL and the
Unicode space characters in ``_UNICODE_SPACES``) into one space, and trim.

The kernel is one numba pass over the Arrow UTF-8 buffer (regular expressions in Arrow ran at
35-80 MB/s, slower than fastText's own predict; this runs at several hundred MB/s).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.classifiers.modes import CURATE, FASTTEXT, MODES
from curate.lean_imports import import_numba
from curate.text.words import utf8_buffers

numba = import_numba()  # without numba's SciPy probes (curate/lean_imports.py)

# Documents are cut to this many characters: a quality or domain decision does not need 100 kB
# of text, and the cap bounds the cost of one huge document.
MAX_CHARS = 10_000
PUNCTUATION = ".!?,;:'\"()[]{}/"
# Recorded in every model card, so a model trained with other preprocessing can be recognised.
PREPROCESSING = {"name": "curate", "version": 1, "lowercase": True, "split_punctuation": PUNCTUATION,
                 "max_chars": MAX_CHARS}
# Unicode space separators (category Zs, plus NEL, LINE and PARAGRAPH SEPARATOR) besides ASCII.
_UNICODE_SPACES = "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                  "\u2028\u2029\u202f\u205f\u3000"
_ASCII_SPACES = "\t\n\v\f\r \x00"

_IS_PUNCT = np.zeros(128, dtype=np.bool_)
_IS_PUNCT[[ord(c) for c in PUNCTUATION]] = True
_IS_SPACE = np.zeros(128, dtype=np.bool_)
_IS_SPACE[[ord(c) for c in _ASCII_SPACES]] = True

_REF_PUNCT = re.compile("([" + re.escape(PUNCTUATION) + "])")
_REF_SPACES = re.compile("[" + re.escape(_ASCII_SPACES + _UNICODE_SPACES) + "]+")


def reference(text: str | None, max_chars: int = MAX_CHARS) -> str:
    """Plain-Python statement of the preprocessing of one text (slow; for tests)."""
    if text is None:
        return ""
    if max_chars > 0:
        text = text[:max_chars]
    text = pc.utf8_lower(pa.scalar(text, pa.string())).as_py()
    text = _REF_PUNCT.sub(r" \1 ", text)
    return _REF_SPACES.sub(" ", text).strip(" ")


@numba.njit(inline="always")
def _unicode_space(data: np.ndarray, i: int, n: int) -> bool:
    """Is the n-byte UTF-8 sequence at data[i] one of _UNICODE_SPACES?"""
    b0 = data[i]
    if n == 2:
        return b0 == 0xC2 and (data[i + 1] == 0x85 or data[i + 1] == 0xA0)
    if n != 3:
        return False
    b1, b2 = data[i + 1], data[i + 2]
    if b0 == 0xE1:
        return b1 == 0x9A and b2 == 0x80
    if b0 == 0xE2:
        if b1 == 0x80:
            return b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF
        return b1 == 0x81 and b2 == 0x9F
    return b0 == 0xE3 and b1 == 0x80 and b2 == 0x80


@numba.njit(cache=True)
def _lines(data, offsets, is_space, is_punct, newline, out, out_offsets):  # pragma: no cover - numba
    o = 0
    for d in range(len(offsets) - 1):
        out_offsets[d] = o
        start = o
        pending = False  # a separator was seen since the last character written
        i = offsets[d]
        end = offsets[d + 1]
        while i < end:
            b = data[i]
            if b < 0x80:  # ASCII fast path, kept separate: merging it with the multi-byte path costs ~20%
                if is_space[b]:
                    pending = True
                elif is_punct[b]:
                    if o > start:
                        out[o] = 32
                        o += 1
                    out[o] = b
                    o += 1
                    pending = True
                else:
                    if pending and o > start:
                        out[o] = 32
                        o += 1
                    pending = False
                    out[o] = b
                    o += 1
                i += 1
                continue
            width = 2 if b < 0xE0 else (3 if b < 0xF0 else 4)
            if i + width > end:
                width = end - i
            if _unicode_space(data, i, width):
                pending = True
            else:
                if pending and o > start:
                    out[o] = 32
                    o += 1
                pending = False
                for j in range(width):
                    out[o + j] = data[i + j]
                o += width
            i += width
        if newline:
            out[o] = 10
            o += 1
    out_offsets[len(offsets) - 1] = o
    return o


def preprocess(texts: pa.Array | pa.ChunkedArray | list[str | None], max_chars: int = MAX_CHARS,
               newline: bool = False) -> pa.Array:
    """Every text as one fastText line (see the module docstring); with `newline`, each ends in
    ``\\n`` as fastText's batch predict wants. Null gives the empty line."""
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(texts, pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if len(texts) == 0:
        return pa.array([], pa.string())
    longest = pc.max(pc.utf8_length(texts)).as_py() or 0
    if 0 < max_chars < longest:
        texts = pc.utf8_slice_codeunits(texts, 0, max_chars)
    data, offsets = utf8_buffers(texts, lower=True)
    n = len(texts)
    out = np.empty(2 * len(data) + n, dtype=np.uint8)
    out_offsets = np.empty(n + 1, dtype=np.int64)
    used = _lines(data, offsets, _IS_SPACE, _IS_PUNCT, newline, out, out_offsets)
    if used < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(out_offsets.astype(np.int32)), pa.py_buffer(out[:used]))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(out[:used]))


def fasttext_lines(texts: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Array:
    """Every text as fastText's ``predict`` takes it: newlines replaced by spaces, a final
    ``\\n`` added (what ``predict`` appends itself), nothing else. Null gives the empty line."""
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(texts, pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    flat = pc.replace_substring(pc.fill_null(texts, ""), "\n", " ")
    return pc.binary_join_element_wise(flat, "\n", "")


def lines_for(texts: pa.Array | pa.ChunkedArray | list[str | None], mode: str) -> pa.Array:
    """The fastText input lines (each ending in ``\\n``) of `texts` under preprocess `mode`."""
    if mode == CURATE:
        return preprocess(texts, newline=True)
    if mode == FASTTEXT:
        return fasttext_lines(texts)
    raise ValueError(f"unknown preprocess mode {mode!r} (known: {', '.join(MODES)})")


def no_words(lines: pa.Array) -> pa.Array:
    """True where a line holds no word for fastText (only its ASCII whitespace): fastText would
    still answer for it, from the end-of-line token alone, so callers report null instead."""
    return pc.equal(pc.binary_length(pc.ascii_trim_whitespace(lines)), 0)


KERNELS = (_lines,)  # for the run's warm-up (curate.kernels)
