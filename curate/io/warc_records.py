"""WARC records cut from a file with their framing checked, so that damage is reported, never cut.

A WARC file is a sequence of records, each a version line (``WARC/1.1``), header lines, a blank
line, a block of exactly ``Content-Length`` bytes and the two line ends (CRLF CRLF) that close the
record (WARC 1.1, section 4: ``warc-record = header CRLF block CRLF CRLF``). A ``.warc.gz`` file
holds one gzip member per record (WARC 1.1, annex D.2, "record-at-time compression"; Common Crawl
writes its files so). warcio, which parses the records, accepts a block that ends early and a
record not followed by its CRLF CRLF with a warning on stderr, and a gzip member cut short as the
end of the file, so a truncated or lying record used to become a silently shortened document or
two records glued under one URL. Here every record is checked before warcio sees it:

- its block holds all ``Content-Length`` bytes (else ``truncated_record``);
- CRLF CRLF follows the block (else the Content-Length is wrong: ``damaged_record``);
- in a ``.warc.gz`` file, each gzip member decompresses without error to its end (its CRC and size
  checked by zlib) and holds exactly one record.

A damaged record is a :class:`Damage` naming its byte offset in the file (in a gzip file, the
offset of its member, the offset Common Crawl's indexes give). Reading goes on after it: with the
next gzip member, or in a plain file at the next CRLF CRLF followed by a version line.
Whether a file is gzip is decided by its first bytes (the gzip magic), as warcio does.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TRUNCATED = "truncated_record"
DAMAGED = "damaged_record"
GZIP_MAGIC = b"\x1f\x8b"
RECORD_END = b"\r\n\r\n"
NEXT_RECORD = RECORD_END + b"WARC/"
MAX_HEADER_BYTES = 1 << 20  # a header block longer than this is not a WARC header
CHUNK = 1 << 16


@dataclass(frozen=True)
class Record:
    """A record whose framing is sound: its type and, if asked for, its bytes (header and block)."""

    offset: int
    rec_type: str | None
    raw: bytes | None


@dataclass(frozen=True)
class Damage:
    """A record that cannot be read whole: where it starts, the row-error reason and what is wrong."""

    offset: int
    reason: str
    message: str


class _Fault(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def records(path: Path, wanted: Callable[[str | None], bool]) -> Iterator[Record | Damage]:
    """Every record of the WARC file `path` in order, or the damage found where one should be;
    the bytes of records whose WARC-Type is `wanted` are kept, the others are read past."""
    with open(path, "rb") as fh:
        gzipped = fh.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        fh.seek(0)
        yield from (_gzip_records(fh, wanted) if gzipped else _plain_records(fh, wanted))


def _read_record(stream: BinaryIO, wanted: Callable[[str | None], bool], remaining: int | None
                 ) -> tuple[str | None, bytes | None] | None:
    """(WARC-Type, bytes if wanted) of the record at the stream's position, None at a clean end;
    _Fault if it is damaged. `remaining`: bytes left in the stream when known (a plain file)."""
    first = stream.readline(MAX_HEADER_BYTES)
    if not first:
        return None
    if not first.startswith(b"WARC/"):
        raise _Fault(DAMAGED, f"no WARC record here (the line starts {first[:20]!r}, not a WARC/ version line)")
    lines = [first]
    size = len(first)
    while lines[-1] not in (b"\r\n", b"\n"):
        line = stream.readline(MAX_HEADER_BYTES - size + 1)
        if not line:
            raise _Fault(TRUNCATED, "the file ends inside the record's header")
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise _Fault(DAMAGED, f"a header longer than {MAX_HEADER_BYTES} bytes")
        lines.append(line)
    header = b"".join(lines)
    declared = _header_value(lines, b"content-length")
    if declared is None or not (declared.isascii() and declared.isdigit()):
        raise _Fault(DAMAGED, f"no valid Content-Length (got {declared!r})")
    length = int(declared)
    rec_type = _header_value(lines, b"warc-type")
    keep = wanted(rec_type)
    if remaining is not None and length > remaining - size:
        raise _Fault(TRUNCATED, f"the file ends {remaining - size} bytes into a block of Content-Length {length}")
    block, got = _read_block(stream, length, keep)
    if got < length:
        raise _Fault(TRUNCATED, f"the data ends {got} bytes into a block of Content-Length {length}")
    end = stream.read(len(RECORD_END))
    if end != RECORD_END:
        raise _Fault(DAMAGED, f"Content-Length {length} is wrong: the block is not followed by the CRLF CRLF "
                              f"that ends a record (found {end!r})")
    return rec_type, (header + block if keep else None)


def _header_value(lines: list[bytes], name: bytes) -> str | None:
    """The value of header `name` (lower case) among a record's header lines (WARC 1.1, section
    4: ``name ":" value``, names case-insensitive). Only the two fields framing needs are read here;
    warcio parses the whole header of each document record."""
    for line in lines[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip().decode("utf-8", "replace")
    return None


def _read_block(stream: BinaryIO, length: int, keep: bool) -> tuple[bytes, int]:
    """(the block if `keep`, else b"", bytes actually there) for a block of `length` bytes."""
    parts = []
    got = 0
    while got < length:
        part = stream.read(min(CHUNK, length - got))
        if not part:
            break
        got += len(part)
        if keep:
            parts.append(part)
    return b"".join(parts), got


# --------------------------------------------------------------------------- plain files
def _plain_records(fh: BinaryIO, wanted: Callable[[str | None], bool]) -> Iterator[Record | Damage]:
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    while True:
        _skip_blank_lines(fh)
        offset = fh.tell()
        try:
            found = _read_record(fh, wanted, size - offset)
        except _Fault as fault:
            yield Damage(offset, fault.reason, str(fault))
            following = _find(fh, offset, NEXT_RECORD)
            if following is None:
                return
            fh.seek(following + len(RECORD_END))
            continue
        if found is None:
            return
        yield Record(offset, *found)


def _skip_blank_lines(fh: BinaryIO) -> None:
    """Past blank lines between records (some writers put more than the CRLF CRLF)."""
    while True:
        start = fh.tell()
        line = fh.readline(CHUNK)
        if line not in (b"\r\n", b"\n"):
            fh.seek(start)
            return


def _find(fh: BinaryIO, start: int, pattern: bytes) -> int | None:
    """Offset of the first `pattern` after `start` (exclusive), reading forward in chunks."""
    pos = start + 1
    tail = b""
    fh.seek(pos)
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        hit = data.find(pattern)
        if hit >= 0:
            return pos - len(tail) + hit
        tail = data[-(len(pattern) - 1):]
        pos += len(chunk)


# --------------------------------------------------------------------------- gzip files
class _Member(io.RawIOBase):
    """One gzip member of `fh`, from its current position, as a decompressed stream."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.start = fh.tell()
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""  # read from the file, not yet given to zlib

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self.inflate.eof:
            data = self.pending or self.fh.read(CHUNK)
            if not data:
                return 0  # the file ends inside the member (ended() is False)
            out = self.inflate.decompress(data, len(buffer))
            self.pending = self.inflate.unconsumed_tail
            if out:
                buffer[:len(out)] = out
                return len(out)
        return 0

    def ended(self) -> bool:
        return self.inflate.eof

    def end_offset(self) -> int:
        """Where the next member starts (only once ended())."""
        return self.fh.tell() - len(self.inflate.unused_data)

    def drain(self) -> bool:
        """Read to the member's end; whether it has one (no zlib error, not cut by the file's end)."""
        try:
            while self.read(CHUNK):
                pass
        except zlib.error:
            return False
        return self.ended()


def _gzip_records(fh: BinaryIO, wanted: Callable[[str | None], bool]) -> Iterator[Record | Damage]:
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    offset = 0
    while offset < size:
        fh.seek(offset)
        if fh.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
            yield Damage(offset, DAMAGED, f"{size - offset} bytes that are not a gzip member (the file holds one "
                                          "gzip member per record)")
            return
        fh.seek(offset)
        member = _Member(fh)
        stream = io.BufferedReader(member, CHUNK)
        try:
            found = _read_record(stream, wanted, None)
            if found is not None and stream.read(1):
                raise _Fault(DAMAGED, "the gzip member holds more than one record (a wrong Content-Length, or a file "
                                      "compressed whole instead of record by record)")
            if not member.drain():
                raise _Fault(TRUNCATED, "the gzip member is cut short (the file ends before the member does)")
        except zlib.error as exc:
            yield Damage(offset, DAMAGED, f"the gzip member does not decompress ({exc}); the rest of the file is "
                                          "not read")
            return
        except _Fault as fault:
            yield Damage(offset, fault.reason, str(fault))
            if not member.drain():
                return
            offset = member.end_offset()
            continue
        if found is not None:
            yield Record(offset, *found)
        offset = member.end_offset()
