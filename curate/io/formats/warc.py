"""Common Crawl WARC and WET input, HTML to text (curate.io.warc; the `warc` extra)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate import schema
from curate.io.conform import ColumnMap, RowError
from curate.io.input_format import LocalBatchFormat, ReadOptions, register


@register
class WarcFormat(LocalBatchFormat):
    name = "warc"
    # Common Crawl names its WET files *.warc.wet.gz
    suffixes = (".warc", ".warc.gz", ".wet", ".wet.gz")
    own_columns = frozenset({schema.READ_REASON})
    help = ("Common Crawl WARC (response records, HTML to text with resiliparse) and WET (conversion "
            "records); pip install 'curate[warc]'.")

    def file_schema(self, local: Path, columns: ColumnMap) -> pa.Schema:
        from curate.io import warc

        return warc.file_schema(local)

    def batches(self, local: Path, names: list[str], options: ReadOptions,
                on_row_error: RowError) -> Iterator[tuple[pa.Table, np.ndarray]]:
        from curate.io import warc

        return warc.batches(local, names, on_row_error)
