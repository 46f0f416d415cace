"""The input formats beyond Parquet and JSON Lines, behind one interface for the reader: a
format's file schema, and its batches of the wanted columns with each row's number in its file.
The generic reader (:mod:`curate.io.read`) conforms them to the unified schema like any other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.io.conform import RowError

CSV = "csv"
HF_ARROW = "hf_arrow"
WARC = "warc"

# suffix -> format (compressed CSV/TSV through curate.io.compressed)
SUFFIXES = {
    **{f".{kind}{codec}": CSV for kind in ("csv", "tsv") for codec in ("", ".gz", ".zst", ".bz2", ".xz")},
    ".arrow": HF_ARROW,
    **{s: WARC for s in (".warc", ".warc.gz", ".wet", ".wet.gz")},  # CC names WET files *.warc.wet.gz
}


def is_sidecar(name: str) -> bool:
    """Metadata files that sit among data files and are not data (Hugging Face datasets' JSON)."""
    from curate.io.hf_arrow import SIDECARS

    return name in SIDECARS


def file_schema(path: Path, fmt: str, delimiter: str | None = None) -> pa.Schema:
    """Schema of one file of format `fmt` (one of the formats in SUFFIXES)."""
    if fmt == CSV:
        from curate.io import delimited

        return delimited.file_schema(path, delimiter)
    if fmt == WARC:
        from curate.io import warc

        return warc.file_schema(path)
    from curate.io import hf_arrow

    return hf_arrow.file_schema(path)


def batches(path: Path, fmt: str, names: list[str], on_row_error: RowError, delimiter: str | None = None,
            block_bytes: int | None = None) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """(table of the `names` columns, row numbers) per batch of one file of format `fmt`; rows a
    format can tell are damaged (a WARC record) go to `on_row_error`."""
    if fmt == CSV:
        from curate.io import delimited

        yield from delimited.batches(path, names, delimiter, block_bytes or delimited.BLOCK_BYTES)
        return
    if fmt == WARC:
        from curate.io import warc

        yield from warc.batches(path, names, on_row_error)
        return
    from curate.io import hf_arrow

    yield from hf_arrow.batches(path, names)
