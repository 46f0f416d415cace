"""One compiled pass over a batch's bytes that tells which documents may hold each kind of PII.

The RE2 patterns of :mod:`curate.text.pii` then run only on those documents. The tests are
supersets of what the patterns can match (so no match is lost), and cheap: an ``@``; four
dot-separated digit groups; two colons and a digit in a run of hex digits and colons; at
least seven digits broken only by up to three separators in a row (`` / ``, ``) ``, from
`` .-/()+``): the valid phone numbers of the supported countries and every card and IBAN
have more.
"""

from __future__ import annotations

import functools
import types

import numpy as np
import pyarrow as pa

from curate.stages.heuristics.text import string_buffers

AT, IPV4, IPV6, DIGITS = range(4)  # columns of the candidate mask


# byte classes
_END, _DIGIT, _HEX, _DOT, _COLON, _AT, _SEP = range(7)


def _byte_classes() -> np.ndarray:
    table = np.full(256, _END, dtype=np.uint8)  # letters g-z, non-ASCII, most punctuation
    table[ord("0"):ord("9") + 1] = _DIGIT
    for c in "abcdefABCDEF":
        table[ord(c)] = _HEX
    table[ord(".")] = _DOT
    table[ord(":")] = _COLON
    table[ord("@")] = _AT
    for c in " -/()+":
        table[ord(c)] = _SEP
    return table


def _scan(data, offsets, classes, out):
    n = offsets.shape[0] - 1
    for i in range(n):
        run = 0  # digits in the current dot-separated group
        groups = 0  # completed `digits.` groups before it
        colons = 0  # colons in the current run of hex digits and colons
        hex_digit = False  # a decimal digit in that run
        digits = 0  # digits in the current separated number
        seps = 0  # separators since the last digit
        for p in range(offsets[i], offsets[i + 1]):
            c = classes[data[p]]
            if c == 0:  # _END
                run = groups = colons = digits = seps = 0
                hex_digit = False
            elif c == 1:  # _DIGIT
                run += 1
                if groups >= 3:
                    out[i, 1] = True
                hex_digit = True
                if colons >= 2:
                    out[i, 2] = True
                digits += 1
                seps = 0
                if digits >= 7:
                    out[i, 3] = True
            elif c == 2:  # _HEX
                run = groups = digits = seps = 0
                if colons >= 2 and hex_digit:
                    out[i, 2] = True
            elif c == 3:  # _DOT
                if run > 0:
                    groups += 1
                else:
                    groups = 0
                run = 0
                colons = 0
                hex_digit = False
                if digits > 0 and seps < 3:
                    seps += 1
                else:
                    digits = seps = 0
            elif c == 4:  # _COLON
                colons += 1
                if colons >= 2 and hex_digit:
                    out[i, 2] = True
                run = groups = digits = seps = 0
            elif c == 5:  # _AT
                out[i, 0] = True
                run = groups = colons = digits = seps = 0
                hex_digit = False
            else:  # _SEP
                run = groups = colons = 0
                hex_digit = False
                if digits > 0 and seps < 3:
                    seps += 1
                else:
                    digits = seps = 0


@functools.lru_cache(maxsize=1)
def _kernels() -> types.SimpleNamespace:
    import numba

    return types.SimpleNamespace(scan=numba.njit(cache=True)(_scan), classes=_byte_classes())


def candidates(text: pa.Array) -> np.ndarray:
    """A (documents, 4) boolean mask: which documents may hold an e-mail, IPv4, IPv6, a long number."""
    data, offsets = string_buffers(text)
    out = np.zeros((len(text), 4), dtype=np.bool_)
    k = _kernels()
    k.scan(data, offsets, k.classes, out)
    return out
