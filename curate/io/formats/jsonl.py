"""JSON Lines input (.jsonl, and dolma's .json names), plain or compressed (.gz, .zst, .bz2, .xz);
in a dolma dataset root, documents with their attributes (:mod:`curate.io.dolma`)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from curate.io import dolma, jsonl
from curate.io.compressed import CODECS, codec_suffix
from curate.io.conform import AUTO_ID, ROW, ColumnMap, RowError
from curate.io.conform import project as project_schema
from curate.io.input_format import InputFormat, ReadOptions, Split, register
from curate.io.json_lines import check_json_lines
from curate.schema import ID
from curate.store.storage import Storage


@register
class JsonLinesFormat(InputFormat):
    name = "jsonl"
    suffixes = tuple(f"{ext}{codec}" for ext in (".jsonl", ".json") for codec in ("", *CODECS))
    help = ("JSON Lines, one object per line (.jsonl, and dolma's .json), plain or .gz/.zst/.bz2/.xz; "
            "typed over the whole file, streamed from object stores.")
    streams_remote = True

    def wanted(self, path: str, columns: ColumnMap, storage: Storage) -> bool:
        """A dolma attribute file is read with its documents file, not as an input of its own."""
        return not dolma.is_attribute_file(path, storage)

    def schema(self, path: str, rel: str, options: ReadOptions, storage: Storage) -> pa.Schema:
        check_json_lines(path, rel, storage)
        sch = jsonl.file_schema(path, rel, options.columns, options.block_bytes, storage)
        for field in dolma.attribute_schema(dolma.attribute_files(path, options.columns, storage), storage):
            if field.name not in sch.names:
                sch = sch.append(field)
        return sch

    def read(self, path: str, rel: str, split: Split, target: pa.Schema, options: ReadOptions,
             names: list[str] | None, on_row_error: RowError, storage: Storage) -> Iterator[pa.Table]:
        """Every column is read even when only `names` are wanted, so that a row is an error or not
        whatever is projected."""
        out = project_schema(target, names)
        attributes = [(f, dolma.read_attributes(f, storage))
                      for f in dolma.attribute_files(path, options.columns, storage)]
        fields = [target.field(n) for n in dict.fromkeys(c for _, t in attributes for c in t.column_names)
                  if n != "id" and n in target.names]
        id_column = None if options.columns.id == AUTO_ID else ID
        for table in jsonl.read(path, rel, target, options.columns, options.block_bytes, on_row_error, storage):
            if attributes:
                table = dolma.merge(table, table.column(ROW), attributes, id_column, fields)
            yield table if names is None else table.select([*out.names, ROW])

    def rereads(self, path: str) -> bool:
        """Uncompressed only: inflating gzip JSON Lines again cost more than the copy (0.887x, 0.906x
        in the two recorded bench/passes_io.py runs)."""
        return not codec_suffix(path)

    def kernels(self) -> list[object]:
        from curate.io import jsonl_scan

        return jsonl_scan.kernels()

    def warm_up(self, sample: pa.Table) -> None:
        import numpy as np

        from curate.io.jsonl_scan import scan_lines

        scan_lines(np.frombuffer(b'{"id": "a", "text": "b\\u00e9", "n": 1}\n', dtype=np.uint8))
