"""UTF-8 for the compiled text kernels (MinHash words, heuristic signals, domain hashing): the
bytes of an Arrow string array, and decoding.

`decode` is a plain Python function so that this module imports without numba; each kernel
module compiles it with ``numba.njit(inline="always")`` into its own loops.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPLACEMENT = 0xFFFD


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets) of a string array, honouring slicing; nulls are empty."""
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    large = pa.types.is_large_string(arr.type)
    _, off_buf, data_buf = arr.buffers()
    width = 8 if large else 4
    offsets = np.frombuffer(off_buf, dtype=np.int64 if large else np.int32, count=len(arr) + 1,
                            offset=arr.offset * width).astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data, offsets


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
