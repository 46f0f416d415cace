"""UTF-8 decoding for the compiled text kernels (MinHash words, heuristic signals).

`decode` is a plain Python function so that this module imports without numba; each kernel
module compiles it with ``numba.njit(inline="always")`` into its own loops.
"""

from __future__ import annotations

import numpy as np

REPLACEMENT = 0xFFFD


def decode(data, p, end):
    """Decode the UTF-8 code point starting at byte `p` (< `end`); return (code point, bytes).

    Malformed input (Arrow strings should be valid UTF-8, but a kernel must never read out of
    bounds) decodes as U+FFFD, one byte at a time.
    """
    b0 = np.int64(data[p])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xC0 or b0 >= 0xF8:
        return REPLACEMENT, 1
    if b0 < 0xE0:
        if p + 2 > end:
            return REPLACEMENT, 1
        return ((b0 & 0x1F) << 6) | (np.int64(data[p + 1]) & 0x3F), 2
    if b0 < 0xF0:
        if p + 3 > end:
            return REPLACEMENT, 1
        return ((b0 & 0x0F) << 12) | ((np.int64(data[p + 1]) & 0x3F) << 6) | (np.int64(data[p + 2]) & 0x3F), 3
    if p + 4 > end:
        return REPLACEMENT, 1
    cp = (((b0 & 0x07) << 18) | ((np.int64(data[p + 1]) & 0x3F) << 12) | ((np.int64(data[p + 2]) & 0x3F) << 6)
          | (np.int64(data[p + 3]) & 0x3F))
    if cp > 0x10FFFF:
        return REPLACEMENT, 1
    return cp, 4
