"""Every match of a regular expression in a string column, with its context, in Arrow kernels.

pyarrow's RE2 kernels find or replace matches but give no list of all matches. Wrapping each
match in a marker character with ``replace_substring_regex`` (``\\0`` is the whole match) and
splitting on the marker turns every row into alternating pieces ``[text, match, text, match,
text]``: the odd pieces are the matches and their neighbours the text before and after them,
so validators can look at the surrounding words, and a row is rebuilt by joining its pieces.
Only rows with at least one match are split; the scan itself is one RE2 pass in C++.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import InputError

# Characters that do not occur in real text; the first one absent from the rows is the marker.
_MARKERS = ("\x00", "\x01", "\x02", "\ufdd0", "\ufdd1")


@dataclass
class Matches:
    """The matches of one pattern in the rows ``rows`` of a string column.

    ``pieces`` is one list of alternating pieces per row in ``rows`` (text, match, text, ...);
    ``match_index`` points into ``pieces``' flat values at each match, in order, and
    ``match_row`` gives for each match the position in ``rows`` of the row it was found in.
    """

    rows: np.ndarray
    pieces: pa.ListArray
    match_index: np.ndarray
    match_row: np.ndarray

    @property
    def values(self) -> pa.Array:
        return self.pieces.values

    @property
    def text(self) -> pa.Array:
        """The matched strings."""
        return self.values.take(pa.array(self.match_index))

    @property
    def before(self) -> pa.Array:
        """The text before each match, back to the start of the previous match (or the row start).

        The previous match is included because a validator may reject it: then it is ordinary
        text that the next match is glued to (``4046 0372 6823``).
        """
        return self._context(-1)

    @property
    def after(self) -> pa.Array:
        """The text after each match, up to the end of the next match (or the row end)."""
        return self._context(+1)

    def _context(self, step: int) -> pa.Array:
        near = self.values.take(pa.array(self.match_index + step))
        offsets = self.pieces.offsets.to_numpy()
        far_index = self.match_index + 2 * step
        inside = (far_index >= offsets[self.match_row]) & (far_index < offsets[self.match_row + 1])
        far = self.values.take(pa.array(np.where(inside, far_index, self.match_index)))
        far = pc.if_else(pa.array(inside), far, pa.scalar("", self.values.type))
        pair = (far, near) if step < 0 else (near, far)
        return pc.binary_join_element_wise(*pair, "")

    def count_per_row(self, keep: np.ndarray, n_rows: int) -> np.ndarray:
        """Per row of the whole column (`n_rows`), how many matches have ``keep`` true."""
        counts = np.zeros(n_rows, dtype=np.int32)
        if len(self.rows):
            counts[self.rows] = np.bincount(self.match_row[keep], minlength=len(self.rows))
        return counts

    def replace(self, column: pa.Array, keep: np.ndarray, replacement: str) -> pa.Array:
        """`column` with the matches where ``keep`` is true replaced by `replacement`."""
        if not keep.any():
            return column
        hit = np.zeros(len(self.values), dtype=bool)
        hit[self.match_index[keep]] = True
        values = pc.if_else(pa.array(hit), pa.scalar(replacement, self.values.type), self.values)
        joined = pc.binary_join(pa.ListArray.from_arrays(self.pieces.offsets, values), "")
        row_mask = np.zeros(len(column), dtype=bool)
        row_mask[self.rows] = True
        return pc.replace_with_mask(column, pa.array(row_mask), joined.cast(column.type))


def find_all(column: pa.Array, pattern: str, rows: np.ndarray | None = None) -> Matches:
    """All non-overlapping leftmost matches of the RE2 `pattern` in the string array `column`
    (only in the rows `rows`, when given: a cheaper test already ruled the others out)."""
    if rows is None:
        rows = np.arange(len(column))
    subset = column.take(pa.array(rows, pa.int64()))
    has = pc.fill_null(pc.match_substring_regex(subset, pattern), False).to_numpy(zero_copy_only=False)
    rows = rows[has]
    subset = subset.filter(pa.array(has))
    marker = _marker_for(subset)
    marked = pc.replace_substring_regex(subset, pattern, marker + "\\0" + marker)
    pieces = pc.split_pattern(marked, marker)
    if isinstance(pieces, pa.ChunkedArray):
        pieces = pieces.combine_chunks()
    offsets = pieces.offsets.to_numpy()
    lengths = np.diff(offsets)
    n_matches = (lengths - 1) // 2
    match_row = np.repeat(np.arange(len(rows)), n_matches)
    # the k-th match of a row is its piece 2k+1
    first = np.repeat(offsets[:-1] + 1, n_matches)
    within = np.arange(len(match_row)) - np.repeat(np.cumsum(n_matches) - n_matches, n_matches)
    return Matches(rows=rows, pieces=pieces, match_index=first + 2 * within, match_row=match_row)


def _marker_for(column: pa.Array) -> str:
    for marker in _MARKERS:
        if not pc.any(pc.match_substring(column, marker)).as_py():
            return marker
    raise InputError("text contains every control character curate uses to split regex matches "
                    f"({', '.join(repr(m) for m in _MARKERS)}); strip control characters first")
