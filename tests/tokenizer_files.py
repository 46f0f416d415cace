"""Small tokenizers made here, never downloaded, for the tokenizer loader's tests and benchmark:
a byte-level BPE ``tokenizer.json`` trained with ``tokenizers``, a SentencePiece ``.model``
trained with ``sentencepiece``'s trainer, and a tiktoken BPE file written from the BPE's ranks."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

EOS = "<|endoftext|>"
TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Pretraining corpora are filtered, deduplicated and tokenized before training.",
    "naïve café – ünïcode ✓ 日本語のテキスト and some numbers 12345 67890",
    "Data-constrained scaling laws say repeated tokens are worth less than fresh ones.",
    "import numpy as np\nprint(np.arange(10).sum())\n",
] * 20
# the sink fixtures' 63 documents (sample data and hand-written ones) give the trainers variety
TEXTS += [json.loads(line)["text"] for line in
          (Path(__file__).resolve().parent / "fixtures" / "sinks" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]


def train_bpe(path: Path, vocab_size: int = 400, texts: list[str] | None = None) -> Path:
    """A byte-level BPE ``tokenizer.json`` with ``<|endoftext|>``, trained on `texts` (default: the test texts)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts or TEXTS, trainer=trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def train_sentencepiece(path: Path, vocab_size: int = 300, texts: list[str] | None = None) -> Path:
    """A SentencePiece unigram model (``<s>``, ``</s>``, ``<unk>``) trained on `texts` (default: the
    test texts)."""
    import sentencepiece as spm

    model = io.BytesIO()
    texts = texts or TEXTS
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
                                   character_coverage=1.0, num_threads=1, minloglevel=2,
                                   max_sentence_length=1 << 20, input_sentence_size=len(texts))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())
    return path


def _byte_level_alphabet() -> dict[str, int]:
    """The character byte-level BPE uses for each byte (GPT-2's ``bytes_to_unicode``,
    openai/gpt-2 src/encoder.py): printable Latin-1 bytes stand for themselves, the others are
    moved to 256 and up, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def write_tiktoken(bpe_json: Path, path: Path) -> dict[bytes, int]:
    """A tiktoken BPE file (``base64-token rank`` a line) with the byte-level BPE's tokens: the 256
    bytes first, in byte order, then the merged tokens in the order the BPE learned them."""
    vocab = json.loads(bpe_json.read_text(encoding="utf-8"))["model"]["vocab"]
    to_byte = _byte_level_alphabet()
    ranks: dict[bytes, int] = {bytes([b]): b for b in range(256)}
    for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
        if token == EOS:  # a special token, not a byte sequence
            continue
        data = bytes(to_byte[c] for c in token)
        if data not in ranks:
            ranks[data] = len(ranks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(base64.b64encode(t) + b" " + str(r).encode() + b"\n" for t, r in ranks.items()))
    return ranks
