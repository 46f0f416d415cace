"""Make the golden tokenized fixtures with the reference writers (run in a throwaway environment
with torch, megatron-core and datatrove; see tests/fixtures/README.md).

Writes into tests/fixtures/sinks/: ``corpus.jsonl`` (60 sample documents plus a few hand-written
ones: non-ASCII, one character, a long one), ``tokenizer.json`` (a byte-level BPE of 1,000
entries trained on the corpus, with ``<|endoftext|>``), ``megatron/corpus.bin|.idx`` (written by
megatron-core's ``IndexedDatasetBuilder``, one document per sequence, EOS appended as
``tools/preprocess_data.py --append-eod`` does) and ``datatrove/00000_unshuffled.ds`` with its
``.index`` and ``.metadata`` (datatrove's ``DocumentTokenizer``, ``shuffle_documents=False``,
``eos_token="<|endoftext|>"``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sinks"
EOS = "<|endoftext|>"
HAND_WRITTEN = ["naïve café – ünïcode ✓ 日本語のテキスト", "x", "the end. " * 300]


def corpus() -> list[dict[str, str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(ROOT / "sample_data" / "shard-00000.parquet", columns=["id", "text"]).slice(0, 60)
    rows = table.to_pylist()
    rows += [{"id": f"hand-{i}", "text": t} for i, t in enumerate(HAND_WRITTEN)]
    return rows


def train_tokenizer(texts: list[str], path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(path))


def megatron(texts: list[str], tokenizer_path: Path, out: Path) -> None:
    import torch
    from megatron.core.datasets.indexed_dataset import DType, IndexedDatasetBuilder
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    eos = tok.token_to_id(EOS)
    out.mkdir(parents=True, exist_ok=True)
    builder = IndexedDatasetBuilder(str(out / "corpus.bin"), dtype=DType.optimal_dtype(tok.get_vocab_size()))
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids + [eos]
        builder.add_document(torch.tensor(ids), [len(ids)])
    builder.finalize(str(out / "corpus.idx"))


def datatrove(rows: list[dict[str, str]], out: Path) -> None:
    from datatrove.data import Document
    from datatrove.pipeline.tokens import DocumentTokenizer

    # the tokenizer is named by its file name, relative to the working directory (FIXTURES): the
    # .metadata file records that name
    step = DocumentTokenizer(output_folder=str(out), tokenizer_name_or_path="tokenizer.json", eos_token=EOS,
                             shuffle_documents=False, batch_size=16)
    step.run((Document(text=r["text"], id=r["id"]) for r in rows), rank=0, world_size=1)


def main() -> int:
    import os

    rows = corpus()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    os.chdir(FIXTURES)
    with open("corpus.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    texts = [r["text"] for r in rows]
    train_tokenizer(texts, FIXTURES / "tokenizer.json")
    for sub in ("megatron", "datatrove"):
        shutil.rmtree(FIXTURES / sub, ignore_errors=True)
    megatron(texts, FIXTURES / "tokenizer.json", FIXTURES / "megatron")
    datatrove(rows, FIXTURES / "datatrove")
    for p in sorted(FIXTURES.rglob("*")):
        if p.is_file():
            print(f"{p.relative_to(ROOT)}  {p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
