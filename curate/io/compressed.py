"""Opening a possibly compressed input file as one Arrow stream, by its suffix.

gzip, zstd and bz2 go through Arrow's own codecs; xz (LZMA) through Python's :mod:`lzma`
wrapped as an Arrow file (Arrow has no LZMA codec), so every reader sees the same kind of stream.
A remote file (a URI) is streamed from its store through :mod:`curate.store.storage`, never downloaded
whole.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import pyarrow as pa

from curate.store.storage import Storage, parse

# suffix -> Arrow codec name (None: Python's lzma)
CODECS: dict[str, str | None] = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2", ".xz": None}


def codec_suffix(name: str) -> str:
    """The compression suffix of a file name (``.gz`` ...), or "" for an uncompressed file."""
    lower = name.lower()
    return next((s for s in CODECS if lower.endswith(s)), "")


def open_input(path: str | Path, storage: Storage | None = None) -> pa.NativeFile:
    """`path` (a local path, or a URI read with `storage`: default the environment's options) as
    a readable Arrow stream, decompressed by its suffix."""
    loc = parse(path)
    suffix = codec_suffix(loc.path.rsplit("/", 1)[-1])
    if loc.is_local:
        if suffix == ".xz":
            return pa.PythonFile(lzma.open(loc.path, "rb"), mode="r")
        return pa.input_stream(loc.path, compression=CODECS[suffix] if suffix else None)
    raw = (storage or Storage()).open_input_stream(loc)
    if suffix == ".xz":
        return pa.PythonFile(lzma.open(raw, "rb"), mode="r")
    return pa.CompressedInputStream(raw, CODECS[suffix]) if suffix else raw
