"""Write curate's Megatron and datatrove shards of the fixture corpus into OUT (run with curate's
environment; `make compat` then reads them with the frameworks' own readers, read_back.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow as pa

from curate.sinks import SinkSpec
from curate.store.layout import WorkStore
from curate.store.storage import Storage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"


def main(out: str) -> int:
    rows = [json.loads(line) for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    table = pa.Table.from_pylist(rows)
    store = WorkStore.open(Path(out).absolute())
    os.chdir(FIXTURES)  # datatrove's .metadata names the tokenizer as given: "tokenizer.json", as the fixture
    for fmt in ("megatron", "datatrove"):
        spec = SinkSpec.from_config(fmt, {"from": "corpus", "format": fmt, "tokenizer": "tokenizer.json"})
        spec.check(Storage())
        writer = spec.open(store.files, f"{store.root}/{fmt}", 0)
        for start in range(0, table.num_rows, 16):
            writer.write(table.slice(start, 16))
        print(fmt, writer.close(table.schema))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
