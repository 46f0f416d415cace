"""Read curate's tokenized shards (written by write_curate.py into OUT) with megatron-core's
``IndexedDataset`` and datatrove's ``DatatroveFolderDataset`` and ``DocumentTokenizerMerger``,
and check every document decodes to its input text, in order (run in the environment with torch,
megatron-core and datatrove; see tests/fixtures/README.md)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"
EOS = "<|endoftext|>"


def main(out: str) -> int:
    from datatrove.pipeline.tokens import DocumentTokenizerMerger
    from datatrove.utils.dataset import DatatroveFolderDataset
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from tokenizers import Tokenizer

    texts = [json.loads(line)["text"] for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    tok = Tokenizer.from_file(str(FIXTURES / "tokenizer.json"))
    eos = tok.token_to_id(EOS)
    expected = [tok.encode(t, add_special_tokens=False).ids + [eos] for t in texts]

    ds = IndexedDataset(str(Path(out) / "megatron" / "part-00000"), multimodal=False, mmap=True)
    assert len(ds) == len(texts), (len(ds), len(texts))
    assert ds.document_indices.tolist() == list(range(len(texts) + 1))
    for i, text in enumerate(texts):
        ids = ds[i].tolist()
        assert ids == expected[i] and tok.decode(ids[:-1]) == text, f"megatron document {i}"
    print(f"megatron-core IndexedDataset: {len(ds)} documents, {int(ds.sequence_lengths.sum())} tokens, all equal")

    seq_len = 63
    folder = DatatroveFolderDataset(str(Path(out) / "datatrove"), seq_len=seq_len, filename_pattern="*.ds",
                                    token_size=2, return_positions=True)
    stream = np.concatenate([np.array(d) for d in expected])
    windows = len(stream) // (seq_len + 1)
    assert len(folder) == windows, (len(folder), windows)
    for w in range(windows):
        item = folder[w]
        window = stream[w * (seq_len + 1):(w + 1) * (seq_len + 1)]
        assert item["input_ids"].tolist() == window.tolist(), f"datatrove window {w}"
    print(f"datatrove DatatroveFolderDataset: {windows} windows of {seq_len + 1} tokens, all equal")

    with tempfile.TemporaryDirectory() as merged:
        DocumentTokenizerMerger(str(Path(out) / "datatrove"), merged, save_filename="merged", shuffle=False,
                                progress=False).run()
        data = np.fromfile(Path(merged) / "000_merged.ds", dtype="<u2")
        ends = np.fromfile(Path(merged) / "000_merged.ds.index", dtype="<u8")
        docs = np.split(data, ends[:-1])
        assert [tok.decode(d[:-1].tolist()) for d in docs] == texts
    print(f"datatrove DocumentTokenizerMerger: merged {len(docs)} documents, all decode to their texts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
