"""Read curate's litdata, mds, numpy and hf sinks (written by write_formats.py into OUT) with
each library's own reader, and check every document (run in the compat environment; see
tests/fixtures/README.md):

* litdata ``StreamingDataset(item_loader=TokensLoader(block_size))``: every block equals the
  token stream of its chunk, cut as TokensLoader cuts it (blocks do not cross chunks);
* mosaicml-streaming ``StreamingDataset(local=..., shuffle=False)``: one sample per document, in
  order, its tokens the document's;
* the numpy files memory-mapped as nanoGPT's ``train.py`` does (``np.memmap(path, dtype,
  mode="r")``), with the dtype of ``metadata.json``, cut by ``.csv.gz``, and read by OLMo-core's
  ``NumpyFSLDataset`` (fixed-length training instances over the files, in order) with
  ``generate_doc_lengths`` (document boundaries from the EOS tokens);
* ``datasets.load_from_disk``: every row, in order.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from formats import cases, expected_tokens  # noqa: E402

BLOCK = 64


def litdata(out: Path, per_task: list[list[list[int]]]) -> str:
    from litdata import StreamingDataset
    from litdata.streaming.item_loader import TokensLoader

    ds = StreamingDataset(input_dir=str(out), item_loader=TokensLoader(block_size=BLOCK), shuffle=False)
    expected = []
    for docs in per_task:
        if docs:
            stream = np.concatenate([np.array(d) for d in docs])
            expected += [stream[i * BLOCK:(i + 1) * BLOCK].tolist() for i in range(len(stream) // BLOCK)]
    got = [np.asarray(ds[i]).tolist() for i in range(len(ds))]
    assert got == expected, (len(got), len(expected))
    return f"litdata StreamingDataset: {len(got)} blocks of {BLOCK} tokens, all equal"


def mds(out: Path, per_task: list[list[list[int]]]) -> str:
    from streaming import StreamingDataset

    with tempfile.TemporaryDirectory() as tmp:
        ds = StreamingDataset(local=str(out), shuffle=False, batch_size=1)
        got = [ds[i]["tokens"].tolist() for i in range(len(ds))]
        del ds
    expected = [d for docs in per_task for d in docs if d]
    assert got == expected, (len(got), len(expected))
    _ = tmp
    return f"mosaicml-streaming StreamingDataset: {len(got)} samples, all equal"


def numpy_tokens(out: Path, per_task: list[list[list[int]]], rows: list[list[dict]]) -> str:
    meta = json.loads((out / "metadata.json").read_text())
    dtype = np.dtype(meta["dtype"])
    files = {f["file"]: f["tokens"] for f in meta["files"]}
    n = 0
    for t, docs in enumerate(per_task):
        name = f"part-{t:05d}.npy"
        if not docs:
            assert name not in files and not (out / name).exists()
            continue
        data = np.memmap(out / name, dtype=dtype, mode="r")
        assert len(data) == files[name]
        with gzip.open(out / f"part-{t:05d}.csv.gz", "rt", newline="") as fh:
            spans = [(int(s), int(e), i) for s, e, i in csv.reader(fh)]
        assert [i for _, _, i in spans] == [r["id"] for r in rows[t]]
        assert [data[s:e].tolist() for s, e, _ in spans] == docs
        n += len(docs)
    return f"numpy memmap ({dtype.name}): {n} documents in {len(files)} files, all equal"


def olmo(out: Path, per_task: list[list[list[int]]]) -> str:
    import torch
    from olmo_core.data import NumpyFSLDataset

    meta = json.loads((out / "metadata.json").read_text())
    seq = 32
    with tempfile.TemporaryDirectory() as work:
        ds = NumpyFSLDataset(*[str(out / f["file"]) for f in meta["files"]], sequence_length=seq,
                             pad_token_id=meta["eos_id"], eos_token_id=meta["eos_id"], vocab_size=meta["vocab_size"],
                             dtype=np.dtype(meta["dtype"]).type, generate_doc_lengths=True)
        ds.work_dir = Path(work)
        ds.prepare()
        got = [ds[i] for i in range(len(ds))]
    expected = []
    for docs in per_task:  # instances do not cross files
        if docs:
            stream = np.concatenate([np.array(d) for d in docs])
            expected += [stream[i * seq:(i + 1) * seq] for i in range(len(stream) // seq)]
    assert [g["input_ids"].tolist() for g in got] == [e.tolist() for e in expected]
    for g, e in zip(got, expected):  # document lengths: the runs ended by each EOS
        ends = np.flatnonzero(e == meta["eos_id"]) + 1
        lengths = np.diff(np.concatenate([[0], ends, [seq] if not len(ends) or ends[-1] != seq else []])).tolist()
        assert g["doc_lens"][g["doc_lens"] > 0].tolist() == lengths
    assert isinstance(got[0]["input_ids"], torch.Tensor)
    return f"OLMo-core NumpyFSLDataset: {len(got)} instances of {seq} tokens with document lengths, all equal"


def hf(out: Path, rows: list[list[dict]]) -> str:
    import datasets

    ds = datasets.load_from_disk(str(out))
    assert ds.to_list() == [r for task in rows for r in task]
    return f"datasets.load_from_disk: {len(ds)} rows in {len(rows)} shards (one empty), all equal"


def main(out: str) -> int:
    for case, (tokenizer, tasks) in cases(Path(out) / "_tokenizers").items():
        per_task = [expected_tokens(tokenizer, rows) for rows in tasks]
        print(case, litdata(Path(out) / case / "litdata", per_task))
        print(case, mds(Path(out) / case / "mds", per_task))
        print(case, numpy_tokens(Path(out) / case / "numpy", per_task, tasks))
        print(case, olmo(Path(out) / case / "numpy", per_task))
        if case == "bpe":
            print(case, hf(Path(out) / case / "hf", tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
