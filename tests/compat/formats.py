"""The corpus and tokenizers of the trainer-format fixtures (litdata, MDS, HF datasets, numpy
tokens), shared by the fixture writer, curate's writer and the read-back (no curate imports: it
runs in the compat environment too).

Three tasks, the middle one empty: task 0 holds the first half of the documents (of
``tests/fixtures/sinks/corpus.jsonl``, or of the word documents), task 1 none, task 2 the rest. Tokenized with the fixture's
1,000-entry BPE (uint16 tokens) and with a 70,000-entry word-level vocabulary (int32 / uint32
tokens), built here from code, so no large file is committed.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"
FORMATS = FIXTURES / "formats"
EOS = "<|endoftext|>"
WORDS_VOCAB = 70000


def corpus_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]


def task_rows(rows: list[dict]) -> list[list[dict]]:
    """Task i's rows: the first half, none, the rest."""
    half = len(rows) // 2
    return [rows[:half], [], rows[half:]]


def words_rows() -> list[dict[str, str]]:
    """Documents of the word-level vocabulary, ids spread over its whole range (past uint16)."""
    return [{"id": f"w-{i}", "text": " ".join(f"w{(i * 7919 + j * 104729) % (WORDS_VOCAB - 2)}" for j in range(20 + i))}
            for i in range(40)]


def words_tokenizer(path: Path) -> Path:
    """A word-level tokenizer of 70,000 entries: w0 .. w69997, [UNK], <|endoftext|>."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(WORDS_VOCAB - 2)}
    vocab["[UNK]"], vocab[EOS] = WORDS_VOCAB - 2, WORDS_VOCAB - 1
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def cases(tmp: Path) -> dict[str, tuple[Path, list[list[dict]]]]:
    """case name -> (tokenizer file, rows of each task)."""
    return {"bpe": (FIXTURES / "tokenizer.json", task_rows(corpus_rows())),
            "words": (words_tokenizer(tmp / "words70k.json"), task_rows(words_rows()))}


def expected_tokens(tokenizer: Path, rows: list[dict]) -> list[list[int]]:
    """Every document's tokens plus EOS, from the tokenizers library itself."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    eos = tok.token_to_id(EOS)
    return [tok.encode(r["text"], add_special_tokens=False).ids + [eos] for r in rows]
