"""Write curate's litdata, mds, numpy and hf sinks of the fixture cases (tests/compat/formats.py)
into OUT/<case>/<format>/: three tasks through the sink writers, the middle one without rows,
then the sink's finish step (its index). Used by `make compat` (then read_back_formats.py reads
them with the libraries' own readers) and by tests/sinks/test_trainer_formats.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

from curate.sinks import SinkSpec
from curate.store.layout import WorkStore
from curate.store.storage import Storage
from tests.compat.formats import cases

TOKENIZED = ("litdata", "mds", "numpy")
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def write_sink(spec: SinkSpec, tasks: list[list[dict]], directory: Path, batch: int = 7) -> list[dict[str, int]]:
    """Every task's shard of `spec` in `directory` (batches of `batch` rows), then its index."""
    store = WorkStore.open(str(directory.parent.absolute()))
    sink_dir = f"{store.root}/{directory.name}"
    counts = []
    for t, rows in enumerate(tasks):
        writer = spec.open(store.files, sink_dir, t)
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        for start in range(0, table.num_rows, batch):
            writer.write(table.slice(start, batch))
        counts.append(writer.close(SCHEMA))
    spec.finish(store.files, sink_dir, len(tasks))
    return counts


def write_all(out: Path) -> None:
    for case, (tokenizer, tasks) in cases(out / "_tokenizers").items():
        for fmt in TOKENIZED:
            spec = SinkSpec.from_config(fmt, {"from": "x", "format": fmt, "tokenizer": str(tokenizer)})
            spec.check(Storage())
            write_sink(spec, tasks, out / case / fmt)
        if case == "bpe":
            write_sink(SinkSpec.from_config("hf", {"from": "x", "format": "hf"}), tasks, out / case / "hf")


if __name__ == "__main__":
    write_all(Path(sys.argv[1]))
    sys.exit(0)
