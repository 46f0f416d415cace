"""Hugging Face ``datasets`` saved with ``save_to_disk``: the Arrow files of a dataset directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.io.conform import ColumnMap, RowError
from curate.io.hf_arrow import SIDECARS
from curate.io.input_format import LocalBatchFormat, ReadOptions, register


@register
class HfArrowFormat(LocalBatchFormat):
    name = "hf_arrow"
    suffixes = (".arrow",)
    help = "Hugging Face datasets saved with save_to_disk (.arrow files; state.json and dataset_info.json skipped)."
    sidecars = SIDECARS

    def file_schema(self, local: Path, columns: ColumnMap) -> pa.Schema:
        from curate.io import hf_arrow

        return hf_arrow.file_schema(local)

    def batches(self, local: Path, names: list[str], options: ReadOptions,
                on_row_error: RowError) -> Iterator[tuple[pa.Table, np.ndarray]]:
        from curate.io import hf_arrow

        return hf_arrow.batches(local, names)
