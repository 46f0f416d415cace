"""A JSON Lines byte stream cut into blocks of whole lines, in time linear in its size, with lines
past the read limit left out unread instead of held.

The stream is read in blocks; a line that runs past a block is kept as a list of the blocks'
pieces and joined once, when its newline arrives, so every byte is copied at most once into the
block that holds it (appending each piece to the line read so far would copy a line of n blocks
n times over: quadratic). A line that grows past `max_line_bytes` is not held at all: its bytes are
dropped as they are read and only its length is reported, so memory stays within
`max_line_bytes` plus one block whatever the file holds.

The limit follows ``--max-doc-bytes`` (:func:`line_limit`): a document whose text is within
``max_doc_bytes`` takes at most 6 bytes per text byte in JSON (a control character escaped as
``\\u0001``; any other character takes at most 3 bytes per UTF-8 byte), plus room for the id and
the other columns. It is capped so that a block handed to Arrow's JSON reader stays below the 2 GiB
its 32-bit block size can address (a longer line used to end in ``OverflowError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

JSON_BYTES_PER_TEXT_BYTE = 6  # RFC 8259, section 7: a control character is escaped as \u00XX
OTHER_COLUMNS_BYTES = 1 << 20  # room for the id, the keys and the other columns of a document
MAX_LINE_BYTES = 1 << 30  # a block (at most this plus one read block) stays below Arrow's 2 GiB
_NONBLANK = re.compile(rb"[^ \t\r]")  # what the line scan (curate.io.jsonl_scan) calls a non-blank line


def line_limit(max_doc_bytes: int) -> int:
    """The longest JSON Lines line read for documents of at most `max_doc_bytes` of text."""
    return min(JSON_BYTES_PER_TEXT_BYTE * max_doc_bytes + OTHER_COLUMNS_BYTES, MAX_LINE_BYTES)


@dataclass(frozen=True)
class LongLine:
    """A non-blank line longer than the limit, left out: its length in bytes (newline excluded)."""

    nbytes: int


class LineBlocks:
    """Iterate over a stream's blocks of whole lines (bytes without the last newline) and
    :class:`LongLine` markers, in stream order. `copied` counts the bytes copied to build the
    blocks: at most the bytes read, which is what keeps the reading linear."""

    def __init__(self, stream: pa.NativeFile, block_bytes: int, max_line_bytes: int):
        self.stream = stream
        self.block_bytes = block_bytes
        self.max_line_bytes = max_line_bytes
        self.copied = 0

    def __iter__(self) -> Iterator[bytes | memoryview | LongLine]:
        pending: list[memoryview] = []  # the start of a line no block read so far has ended
        pending_bytes = 0
        skipped: int | None = None  # within a line past the limit: its bytes so far
        nonblank = False
        while True:
            chunk = self.stream.read(self.block_bytes)
            if not chunk:
                break
            start = 0
            if skipped is not None:  # drop the long line's bytes up to its newline
                end = chunk.find(b"\n")
                nonblank = nonblank or _NONBLANK.search(chunk, 0, len(chunk) if end < 0 else end) is not None
                if end < 0:
                    skipped += len(chunk)
                    continue
                if nonblank:
                    yield LongLine(skipped + end)
                skipped, start = None, end + 1
            view = memoryview(chunk)  # slices of it are views: no copy
            cut = chunk.rfind(b"\n", start)
            if cut < 0:
                pending.append(view[start:])
                pending_bytes += len(chunk) - start
                if pending_bytes > self.max_line_bytes:
                    skipped = pending_bytes
                    nonblank = any(_NONBLANK.search(p) for p in pending)
                    pending, pending_bytes = [], 0
                continue
            yield self._join([*pending, view[start:cut]]) if pending_bytes else view[start:cut]
            pending, pending_bytes = [view[cut + 1:]], len(chunk) - cut - 1
        if skipped is not None:
            if nonblank:
                yield LongLine(skipped)
        elif pending_bytes:
            yield self._join(pending)

    def _join(self, pieces: list[memoryview]) -> bytes:
        joined = b"".join(pieces)
        self.copied += len(joined)
        return joined
