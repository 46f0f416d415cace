"""Split a JSONL block into lines and check each line's structure before any parser sees it.

One compiled pass over the bytes finds, per line, what a JSON parser either gets wrong or crashes
on: a line that holds more than one value (Arrow's reader would count two rows), a value that is
not an object, nesting deeper than the limit (Arrow's reader recurses per level and overflows the
stack near 10,000 levels), integers outside int64 (Arrow silently turns them into doubles), lone
UTF-16 surrogate escapes and invalid UTF-8 (RFC 3629, section 4 ranges). Lines that pass go to the
Arrow parser together; each line that fails is one row error.
"""

from __future__ import annotations

import numpy as np

from curate.lean_imports import import_numba

numba = import_numba()  # without numba's SciPy probes (curate/lean_imports.py)

OK = 0
BLANK = 1
NOT_OBJECT = 2
TRAILING = 3
TOO_DEEP = 4
INT_RANGE = 5
SURROGATE = 6
INVALID_UTF8 = 7
UNBALANCED = 8
TOO_LARGE = 9  # set by the reader (curate.io.jsonl) for a line past the read limit, not by the scan

# Deepest container nesting a row may have (the top-level object is depth 1). Each JSON list
# becomes two Parquet schema levels, and Arrow's Parquet reader refuses a schema nested past its
# limit ("Parquet schema too deeply nested"): a row of 51 nested lists writes a shard that cannot
# be read back (measured with pyarrow 26). 32 keeps every written shard readable.
MAX_DEPTH = 32

_INT64_MAX = np.frombuffer(b"9223372036854775807", dtype=np.uint8)
_INT64_MIN = np.frombuffer(b"9223372036854775808", dtype=np.uint8)


@numba.njit(cache=True, inline="always")
def _hex(c):
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


@numba.njit(cache=True, inline="always")
def _u16(buf, p, end):
    """The code unit of the escape ``\\uXXXX`` whose ``u`` is at p, or -1."""
    if p + 4 >= end:
        return -1
    v = 0
    for k in range(1, 5):
        h = _hex(np.int64(buf[p + k]))
        if h < 0:
            return -1
        v = v * 16 + h
    return v


@numba.njit(cache=True, inline="always")
def _utf8_len(buf, p, end):
    """Length of the valid UTF-8 sequence at p (a non-ASCII lead byte), or 0 if invalid."""
    b0 = np.int64(buf[p])
    if 0xC2 <= b0 <= 0xDF:
        n, lo, hi = 2, 0x80, 0xBF
    elif b0 == 0xE0:
        n, lo, hi = 3, 0xA0, 0xBF
    elif 0xE1 <= b0 <= 0xEC or 0xEE <= b0 <= 0xEF:
        n, lo, hi = 3, 0x80, 0xBF
    elif b0 == 0xED:  # U+D800..U+DFFF are not encodable
        n, lo, hi = 3, 0x80, 0x9F
    elif b0 == 0xF0:
        n, lo, hi = 4, 0x90, 0xBF
    elif 0xF1 <= b0 <= 0xF3:
        n, lo, hi = 4, 0x80, 0xBF
    elif b0 == 0xF4:
        n, lo, hi = 4, 0x80, 0x8F
    else:
        return 0
    if p + n > end:
        return 0
    b1 = np.int64(buf[p + 1])
    if b1 < lo or b1 > hi:
        return 0
    for k in range(2, n):
        if np.int64(buf[p + k]) & 0xC0 != 0x80:
            return 0
    return n


@numba.njit(cache=True, inline="always")
def _int_out_of_range(buf, start, end, negative, int_max, int_min):
    """Whether the integer digits buf[start:end] exceed int64 (19 digits compare bytewise)."""
    n = end - start
    if n < 19:
        return False
    if n > 19:
        return True
    limit = int_min if negative else int_max
    for k in range(19):
        if buf[start + k] != limit[k]:
            return buf[start + k] > limit[k]
    return False


@numba.njit(cache=True)
def _scan(buf, max_depth, int_max, int_min):
    n = buf.shape[0]
    cap = 16
    starts = np.empty(cap, np.int64)
    ends = np.empty(cap, np.int64)
    status = np.empty(cap, np.int8)
    nl = 0
    p = 0
    while p < n:
        line_start = p
        st = BLANK
        depth = 0
        closed = False
        in_str = False
        num_start = -1
        digits_start = -1
        negative = False
        is_float = False
        while p < n and buf[p] != 10:
            c = np.int64(buf[p])
            if st > BLANK:  # the line already failed: skip to its end
                p += 1
                continue
            if in_str:
                while c != 34 and c != 92 and 32 <= c < 0x80:  # plain string bytes: the hot loop
                    p += 1
                    if p == n:
                        break
                    c = np.int64(buf[p])
                if p == n or c == 10:
                    break
                if c == 34:
                    in_str = False
                    p += 1
                elif c == 92:
                    if p + 1 < n and buf[p + 1] == 117:  # \u
                        v = _u16(buf, p + 1, n)
                        if 0xD800 <= v <= 0xDBFF:
                            ok = p + 7 < n and buf[p + 6] == 92 and buf[p + 7] == 117
                            lo = _u16(buf, p + 7, n) if ok else -1
                            if 0xDC00 <= lo <= 0xDFFF:
                                p += 12
                            else:
                                st = SURROGATE
                        elif 0xDC00 <= v <= 0xDFFF:
                            st = SURROGATE
                        else:
                            p += 6 if v >= 0 else 2
                    else:
                        p += 2
                elif c >= 0x80:
                    k = _utf8_len(buf, p, n)
                    if k == 0:
                        st = INVALID_UTF8
                    else:
                        p += k
                else:
                    p += 1
                continue
            if num_start >= 0:
                if 48 <= c <= 57:
                    p += 1
                    continue
                if c == 46 or c == 101 or c == 69 or ((c == 43 or c == 45) and is_float):
                    is_float = True
                    p += 1
                    continue
                if not is_float and _int_out_of_range(buf, digits_start, p, negative, int_max, int_min):
                    st = INT_RANGE
                    continue
                num_start = -1
            if c == 32 or c == 9 or c == 13:
                p += 1
                continue
            if st == BLANK:
                st = OK if c == 123 else NOT_OBJECT
                if st == NOT_OBJECT:
                    continue
            elif closed:
                st = TRAILING
                continue
            if c == 123 or c == 91:
                depth += 1
                if depth > max_depth:
                    st = TOO_DEEP
                    continue
            elif c == 125 or c == 93:
                depth -= 1
                if depth < 0:
                    st = UNBALANCED
                    continue
                if depth == 0:
                    closed = True
            elif c == 34:
                in_str = True
            elif c == 45 or 48 <= c <= 57:
                num_start = p
                negative = c == 45
                digits_start = p + 1 if negative else p
                is_float = False
            elif c >= 0x80 and _utf8_len(buf, p, n) == 0:
                st = INVALID_UTF8
                continue
            p += 1
        if st == OK and (in_str or depth != 0):
            st = UNBALANCED
        if nl == cap:
            cap *= 2
            starts = np.resize(starts, cap)
            ends = np.resize(ends, cap)
            status = np.resize(status, cap)
        starts[nl] = line_start
        ends[nl] = p
        status[nl] = st
        nl += 1
        p += 1  # past the newline
    return starts[:nl], ends[:nl], status[:nl]


def scan_lines(buf: np.ndarray, max_depth: int = MAX_DEPTH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, status) of every line of `buf` (uint8, lines separated by ``\\n``): `end`
    excludes the newline, `status` is one of the constants above."""
    return _scan(buf, max_depth, _INT64_MAX, _INT64_MIN)


def kernels() -> list[object]:
    """The numba kernels of the scan (for the warm-up's cache check)."""
    return [_scan]
