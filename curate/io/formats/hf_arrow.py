"""Hugging Face ``datasets`` saved with ``save_to_disk``: the Arrow files of a dataset directory.

A ``DatasetDict`` saved to disk is a folder of split folders (``train/``, ``test/``, ...) beside
its ``dataset_dict.json``; each file of a split gets the split's name in a ``split`` column (a
file that has a ``split`` column of its own keeps it), so the splits stay apart in the output.
``--split NAME`` reads only that split's files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.errors import ConfigError
from curate.io.conform import ColumnMap, RowError
from curate.io.hf_arrow import SIDECARS
from curate.io.input_format import LocalBatchFormat, ReadOptions, Split, register
from curate.store.storage import Storage

SPLIT_COLUMN = "split"
DATASET_DICT = "dataset_dict.json"


def dataset_dict_split(path: str, storage: Storage) -> tuple[str, list[str]] | None:
    """(the split a file belongs to, every split of its DatasetDict), or None for a file that is
    not in a split folder beside a ``dataset_dict.json`` naming it."""
    parts = path.rstrip("/").rsplit("/", 2)
    if len(parts) < 3:
        return None
    root, split = parts[0], parts[1]
    index = f"{root}/{DATASET_DICT}"
    if not storage.exists(index):
        return None
    splits = json.loads(storage.read_text(index)).get("splits", [])
    return (split, splits) if split in splits else None


@register
class HfArrowFormat(LocalBatchFormat):
    name = "hf_arrow"
    suffixes = (".arrow",)
    help = ("Hugging Face datasets saved with save_to_disk (.arrow files; state.json and dataset_info.json skipped); "
            "a DatasetDict's split in a `split` column, or one split with --split.")
    sidecars = SIDECARS

    def wanted(self, path: str, columns: ColumnMap, storage: Storage) -> bool:
        if columns.split is None:
            return True
        found = dataset_dict_split(path, storage)
        if found is None:
            return True  # not part of a DatasetDict: --split does not apply
        split, splits = found
        if columns.split not in splits:
            raise ConfigError(f"--split {columns.split}: the DatasetDict of {path} has the splits {', '.join(splits)}")
        return split == columns.split

    def schema(self, path: str, rel: str, options: ReadOptions, storage: Storage) -> pa.Schema:
        sch = super().schema(path, rel, options, storage)
        if SPLIT_COLUMN not in sch.names and dataset_dict_split(path, storage) is not None:
            sch = sch.append(pa.field(SPLIT_COLUMN, pa.string()))
        return sch

    def read(self, path: str, rel: str, split: Split, target: pa.Schema, options: ReadOptions,
             names: list[str] | None, on_row_error: RowError, storage: Storage) -> Iterator[pa.Table]:
        found = dataset_dict_split(path, storage)
        own = found is None or SPLIT_COLUMN in self.file_schema(self.local_file(path, storage), options.columns).names
        for table in super().read(path, rel, split, target, options, names, on_row_error, storage):
            if not own and SPLIT_COLUMN in table.column_names:
                at = table.column_names.index(SPLIT_COLUMN)
                value = pa.array([found[0]] * table.num_rows, table.schema.field(at).type)
                table = table.set_column(at, table.schema.field(at), value)
            yield table

    def file_schema(self, local: Path, columns: ColumnMap) -> pa.Schema:
        from curate.io import hf_arrow

        return hf_arrow.file_schema(local)

    def batches(self, local: Path, names: list[str], options: ReadOptions,
                on_row_error: RowError) -> Iterator[tuple[pa.Table, np.ndarray]]:
        from curate.io import hf_arrow

        return hf_arrow.batches(local, names)
