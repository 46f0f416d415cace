"""Golden fixtures of the trainer formats, written by each library's own writer (run in the
compat environment, with torch, litdata, mosaicml-streaming and datasets; see
tests/fixtures/README.md). For each case of tests/compat/formats.py (the 1,000-entry BPE, the
70,000-entry word vocabulary), three tasks with the middle one empty:

* ``litdata/``: litdata's ``BinaryWriter(item_loader=TokensLoader())``, one writer per task (its
  rank), every document's tokens (EOS included) as one numpy item, then litdata's own merge of
  the writers' indexes into ``index.json``;
* ``mds/``: mosaicml-streaming's ``MDSWriter(columns={"tokens": "ndarray:<type>"}, size_limit=None)``
  per task, merged with ``streaming.base.util.merge_index``;
* ``numpy/``: the tokens of each task written through ``np.memmap(mode="w+")`` as nanoGPT's
  ``data/openwebtext/prepare.py`` writes ``train.bin``;
* ``hf/`` (the BPE case's rows): ``datasets.Dataset(table).save_to_disk`` per task.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from formats import FORMATS, cases, expected_tokens  # noqa: E402

LITDATA_CHUNK_BYTES = 1 << 31  # curate/sinks/formats/litdata.py: one chunk per task


def token_dtype(tokenizer: Path, wide: str) -> np.dtype:
    from tokenizers import Tokenizer

    return np.dtype("uint16") if Tokenizer.from_file(str(tokenizer)).get_vocab_size() <= 65536 else np.dtype(wide)


def litdata(tokenizer: Path, tasks: list[list[dict]], out: Path) -> None:
    from litdata.streaming.item_loader import TokensLoader
    from litdata.streaming.writer import BinaryWriter

    dtype = token_dtype(tokenizer, "int32")
    out.mkdir(parents=True)
    for t, rows in enumerate(tasks):
        if not rows:
            continue
        os.environ["DATA_OPTIMIZER_GLOBAL_RANK"] = str(t)
        writer = BinaryWriter(str(out), chunk_bytes=LITDATA_CHUNK_BYTES, item_loader=TokensLoader())
        for i, ids in enumerate(expected_tokens(tokenizer, rows)):
            writer.add_item(i, np.array(ids, dtype=dtype))
        writer.done()
    del os.environ["DATA_OPTIMIZER_GLOBAL_RANK"]
    BinaryWriter(str(out), chunk_bytes=LITDATA_CHUNK_BYTES, item_loader=TokensLoader())._merge_no_wait()
    for p in out.glob("*.index.json"):
        p.unlink()
    # the merge stamps the index with the time ("updated_at"); without it the fixture is the same every run
    index = json.loads((out / "index.json").read_text())
    index.pop("updated_at", None)
    (out / "index.json").write_text(json.dumps(index, sort_keys=True))


def mds(tokenizer: Path, tasks: list[list[dict]], out: Path) -> None:
    from streaming import MDSWriter
    from streaming.base.util import merge_index

    dtype = token_dtype(tokenizer, "int32")
    out.mkdir(parents=True)
    indexes = []
    for t, rows in enumerate(tasks):
        if not rows:
            continue
        with MDSWriter(columns={"tokens": f"ndarray:{dtype.name}"}, out=str(out / f"task{t}"), size_limit=None) as w:
            for ids in expected_tokens(tokenizer, rows):
                w.write({"tokens": np.array(ids, dtype=dtype)})
        indexes.append(str(out / f"task{t}" / "index.json"))
    merge_index(indexes, str(out), keep_local=True)


def numpy_tokens(tokenizer: Path, tasks: list[list[dict]], out: Path) -> None:
    dtype = token_dtype(tokenizer, "uint32")
    out.mkdir(parents=True)
    for t, rows in enumerate(tasks):
        ids = np.concatenate([np.array(d, dtype=np.int64) for d in expected_tokens(tokenizer, rows)]) if rows else []
        if len(ids):
            arr = np.memmap(out / f"task{t}.bin", dtype=dtype, mode="w+", shape=(len(ids),))
            arr[:] = ids
            arr.flush()


def hf(tasks: list[list[dict]], out: Path) -> None:
    import datasets
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    for t, rows in enumerate(tasks):
        # a set fingerprint: save_to_disk records it in state.json, and a random one would change every run
        datasets.Dataset(pa.Table.from_pylist(rows, schema=schema), fingerprint=f"task{t}").save_to_disk(
            str(out / f"task{t}"))


def main() -> int:
    shutil.rmtree(FORMATS, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case, (tokenizer, tasks) in cases(Path(tmp)).items():
            litdata(tokenizer, tasks, FORMATS / case / "litdata")
            mds(tokenizer, tasks, FORMATS / case / "mds")
            numpy_tokens(tokenizer, tasks, FORMATS / case / "numpy")
            if case == "bpe":
                hf(tasks, FORMATS / case / "hf")
    for p in sorted(FORMATS.rglob("*")):
        if p.is_file():
            print(f"{p.relative_to(FORMATS)}  {p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
