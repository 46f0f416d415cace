"""token_count: the documented estimate, and exact counts from a locally trained BPE tokenizer.json."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from curate.api import Pipeline
from tests.conftest import read_output, write_parquet

TEXTS = ["the cat sat on the mat", "a dog ran far away from the cat", "naïve café – ünïcode", "x"]


@pytest.fixture()
def tokenizer_json(tmp_path: Path) -> Path:
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXTS * 50, trainer=trainer)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def test_estimate_is_bytes_over_four(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {"id": [str(i) for i in range(len(TEXTS))], "text": TEXTS})
    Pipeline.from_stages(["token_count"]).run(tmp_path / "in", tmp_path / "out", workers=1)
    got = read_output(tmp_path / "out").column("n_tokens").to_pylist()
    assert got == [math.ceil(len(t.encode()) / 4) for t in TEXTS]


def test_exact_count_matches_the_tokenizer(tmp_path: Path, tokenizer_json: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {"id": [str(i) for i in range(len(TEXTS))], "text": TEXTS})
    Pipeline.from_stages([("token_count", {"method": "tokenizer", "tokenizer": str(tokenizer_json)})]).run(
        tmp_path / "in", tmp_path / "out", workers=2)
    got = read_output(tmp_path / "out").column("n_tokens")
    tok = Tokenizer.from_file(str(tokenizer_json))
    expected = [len(tok.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    assert got.type == pa.int64() and got.to_pylist() == expected
    assert expected[0] < math.ceil(len(TEXTS[0].encode()) / 4) * 3  # a real BPE count, not characters
