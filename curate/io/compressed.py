"""Opening a possibly compressed input file as one Arrow stream, by its suffix.

gzip, zstd and bz2 go through Arrow's own codecs; xz (LZMA) through Python's :mod:`lzma`
wrapped as an Arrow file (Arrow has no LZMA codec), so every reader sees the same kind of stream.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import pyarrow as pa

# suffix -> Arrow codec name (None: Python's lzma)
CODECS: dict[str, str | None] = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2", ".xz": None}


def codec_suffix(name: str) -> str:
    """The compression suffix of a file name (``.gz`` ...), or "" for an uncompressed file."""
    lower = name.lower()
    return next((s for s in CODECS if lower.endswith(s)), "")


def open_input(path: str | Path) -> pa.NativeFile:
    """`path` as a readable Arrow stream, decompressed according to its suffix."""
    suffix = codec_suffix(Path(path).name)
    if suffix == ".xz":
        return pa.PythonFile(lzma.open(path, "rb"), mode="r")
    return pa.input_stream(str(path), compression=CODECS[suffix] if suffix else None)
