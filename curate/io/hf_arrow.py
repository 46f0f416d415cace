"""Hugging Face ``datasets`` saved with ``save_to_disk``: a directory of Arrow IPC stream files
(``data-00000-of-00001.arrow``, ...) beside ``state.json`` and ``dataset_info.json`` (and a
``dataset_dict.json`` above the split directories of a DatasetDict). The ``.arrow`` files are
read directly, memory-mapped and batch by batch; the JSON files are the library's metadata, not
data, and are never taken for JSON Lines shards. ``datasets`` itself is not needed to read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

# The metadata files save_to_disk writes beside (or above) the .arrow files.
SIDECARS = frozenset({"state.json", "dataset_info.json", "dataset_dict.json"})


def _open(path: Path) -> pa.ipc.RecordBatchStreamReader:
    return pa.ipc.open_stream(pa.memory_map(str(path)))


def file_schema(path: Path) -> pa.Schema:
    """The Arrow schema written in the file (without the datasets metadata)."""
    return _open(path).schema.remove_metadata()


def batches(path: Path, names: list[str]) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """(table of the `names` columns the file has, row number of each row) per record batch."""
    reader = _open(path)
    present = [n for n in names if n in reader.schema.names]
    row = 0
    for batch in reader:
        yield pa.Table.from_batches([batch.select(present)]), np.arange(row, row + batch.num_rows, dtype=np.int64)
        row += batch.num_rows
