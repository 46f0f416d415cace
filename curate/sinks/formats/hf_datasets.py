"""Hugging Face ``datasets`` sink: a folder ``datasets.load_from_disk`` opens, as ``save_to_disk``
writes it: ``part-NNNNN.arrow`` (Arrow IPC streams, every column of the stream), ``state.json``
and ``dataset_info.json``.

Each task writes its shard with ``datasets``' own ``ArrowWriter`` (the features of the rows'
Arrow types in the schema metadata, record batches of ``datasets.config.DEFAULT_MAX_BATCH_SIZE``
rows, as ``Dataset.save_to_disk`` cuts them); a task without rows writes a shard with no rows,
which ``load_from_disk`` reads. ``state.json`` and ``dataset_info.json`` (written when the run
ends) list the shards in task order (``_data_files``) and the features; ``_fingerprint`` is a hash
of the shards' names and sizes. Needs the ``datasets`` package (``pip install 'curate[datasets]'``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

from curate.errors import ConfigError
from curate.sinks.base import AtomicStream, SinkWriter
from curate.sinks.sink_format import SinkFormat, register
from curate.sinks.spec import SinkSpec
from curate.sinks.token_chunks import existing_shards
from curate.store.files import Files
from curate.store.shards import conform


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError("the hf sink format writes with the datasets package: pip install 'curate[datasets]'") from None
    return datasets


class HfArrowShard:
    """One task's ``part-NNNNN.arrow``, written by datasets' ArrowWriter in save_to_disk's batches."""

    def __init__(self, files: Files, path: str) -> None:
        self.files, self.path = files, path
        self._stream = AtomicStream(files, path)
        self._writer: Any = None
        self._pending: list[pa.Table] = []
        self._pending_rows = self.docs = 0
        self.batch_rows = _datasets().config.DEFAULT_MAX_BATCH_SIZE

    def _open(self, schema: pa.Schema) -> None:
        datasets = _datasets()
        from datasets.arrow_writer import ArrowWriter

        self._writer = ArrowWriter(features=datasets.Features.from_arrow_schema(schema), stream=self._stream.out,
                                   embed_local_files=True)

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.batch_rows:
            self._flush(whole_batches_only=True)

    def _flush(self, whole_batches_only: bool) -> None:
        if not self._pending:
            return
        schema = self._pending[0].schema
        rows = pa.concat_tables([t if t.schema.equals(schema) else conform(t, schema) for t in self._pending])
        if self._writer is None:
            self._open(schema)
        cut = rows.num_rows - rows.num_rows % self.batch_rows if whole_batches_only else rows.num_rows
        for start in range(0, cut, self.batch_rows):
            self._writer.write_table(rows.slice(start, min(self.batch_rows, cut - start)))
        rest = rows.slice(cut)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        self.docs += cut

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        self._flush(whole_batches_only=False)
        if self._writer is None:
            self._open(empty_schema)
            self._writer.write_table(empty_schema.empty_table())
        self._writer.finalize(close_stream=False)
        return {"docs": self.docs, "bytes": self._stream.commit(), "shards": 1}

    def abort(self) -> None:
        self._stream.abort()


@register
class HfDatasetsFormat(SinkFormat):
    name = "hf"
    help = "Hugging Face datasets folder (.arrow shards + state.json + dataset_info.json), as load_from_disk reads it."
    suffixes = (".arrow",)

    def check(self, spec: SinkSpec, storage: Any) -> None:
        _datasets()

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        return HfArrowShard(files, prefix + ".arrow")

    def finish(self, spec: SinkSpec, files: Files, directory: str, n_tasks: int) -> None:
        shards = list(existing_shards(files, directory, ".arrow", n_tasks))
        if not shards:
            return
        datasets = _datasets()
        with files.fs.open_input_stream(f"{directory}/{shards[0][0]}") as fh:
            schema = pa.ipc.open_stream(fh).schema
        features = datasets.Features.from_arrow_schema(schema)
        state = {"_data_files": [{"filename": name} for name, _ in shards],
                 "_fingerprint": hashlib.sha256(json.dumps(shards).encode()).hexdigest()[:16],
                 "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
                 "_split": None}
        files.write_bytes(f"{directory}/state.json", json.dumps(state, indent=2, sort_keys=True).encode("utf-8"))
        # datasets' own asdict, which turns Features into plain data
        from datasets.utils.py_utils import asdict

        info = asdict(datasets.DatasetInfo(features=features))
        files.write_bytes(f"{directory}/dataset_info.json",
                          json.dumps({k: info[k] for k in sorted(info)}, indent=2).encode("utf-8"))
