"""The one tokenizer loader next to each bare encoder: tokens per CPU second, same documents,
same tokenizer, same run.

For each kind the loader reads (a ``tokenizer.json`` through ``tokenizers``, a SentencePiece
``.model``, a ``.tiktoken`` file), the peer is the library's own encoder called as a user would
call it on the same batches: ``Tokenizer.encode_batch_fast(texts, add_special_tokens=False)``,
``SentencePieceProcessor.encode(texts, out_type=int, num_threads=1)`` and
``Encoding.encode_ordinary`` per text, with the token ids summed so the lists are really made.
curate's side is ``load_tokenizer(path).encode(texts)``, which returns the flat int64 token
array and the count per text that the tokenized sinks write. One encoding thread on both sides
(``RAYON_RS_NUM_CPUS=1``, SentencePiece ``num_threads=1``), so CPU seconds are the cost per core;
the two sides run in turns on each batch, five times, and each batch counts its fewest CPU seconds.

The tokenizers are made here (no download): a byte-level BPE of 16,000 entries trained on part of
the generated corpus, a SentencePiece unigram model of 2,000 pieces (the generated texts have too few distinct pieces for more) trained on the same texts, and
a tiktoken file of the BPE's byte sequences (tests/tokenizer_files.py).

Run: ``python bench/tokenizer_loader.py --scale small|full``; prints Markdown on stdout.
"""

from __future__ import annotations

import os

os.environ["RAYON_RS_NUM_CPUS"] = "1"  # before tokenizers loads: one encoding thread on both sides

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus, load_average, md_table, scale_arg, versions  # noqa: E402

SCALES = {"small": 4_000, "full": 40_000}
BATCH_ROWS = 1000
LIMIT = 1.10  # issue 31: the loader's throughput per core within 10% of the bare encoder
REPEAT = 5


def interleaved(peer, ours, parts: list[list[str]], repeat: int = REPEAT) -> tuple[float, int, float, int]:  # noqa: ANN001
    """(CPU s, tokens) of each of two batch encoders over `parts`: the two run in turns on each
    batch, `repeat` times, and a batch counts its fewest CPU seconds on each side, so a change in
    the shared machine's load falls on both (one whole run's CPU time varies by about 20% here)."""
    best = np.full((2, len(parts)), np.inf)
    tokens = np.zeros((2, len(parts)), dtype=np.int64)
    for _ in range(repeat):
        for b, batch in enumerate(parts):
            for side, fn in enumerate((peer, ours)):
                t0 = time.process_time()
                tokens[side, b] = fn(batch)
                best[side, b] = min(best[side, b], time.process_time() - t0)
    return float(best[0].sum()), int(tokens[0].sum()), float(best[1].sum()), int(tokens[1].sum())


def batches(texts: list[str]) -> list[list[str]]:
    return [texts[i:i + BATCH_ROWS] for i in range(0, len(texts), BATCH_ROWS)]


def bare_encoders(paths: dict[str, Path]) -> dict:
    """kind -> a function encoding one batch with the library itself, returning its token count."""
    import sentencepiece as spm
    import tiktoken
    from tokenizers import Tokenizer

    from curate.text.tokenizer_loader import load_tokenizer

    hf = Tokenizer.from_file(str(paths["tokenizer.json"]))
    sp = spm.SentencePieceProcessor(model_file=str(paths["SentencePiece .model"]))
    loaded = load_tokenizer(str(paths[".tiktoken file"])).encoding  # the loader only builds it: same pattern
    bare = tiktoken.Encoding(name="bare", pat_str=loaded._pat_str, mergeable_ranks=loaded._mergeable_ranks,
                             special_tokens=loaded._special_tokens)
    return {
        "tokenizer.json": lambda b: sum(len(e.ids) for e in hf.encode_batch_fast(b, add_special_tokens=False)),
        "SentencePiece .model": lambda b: sum(map(len, sp.encode(b, out_type=int, num_threads=1))),
        ".tiktoken file": lambda b: sum(len(bare.encode_ordinary(t)) for t in b),
    }


def make_tokenizers(texts: list[str], folder: Path) -> dict[str, Path]:
    """kind -> the file of a tokenizer of that kind, trained on `texts`."""
    from tests.tokenizer_files import train_bpe, train_sentencepiece, write_tiktoken

    bpe = train_bpe(folder / "tokenizer.json", vocab_size=16_000, texts=texts)
    write_tiktoken(bpe, folder / "bpe16k.tiktoken")
    return {"tokenizer.json": bpe, "SentencePiece .model": train_sentencepiece(folder / "spm.model", 2000, texts),
            ".tiktoken file": folder / "bpe16k.tiktoken"}


def main() -> int:
    import pyarrow.dataset as pds

    from curate.store.cache import begin_run
    from curate.text.tokenizer_loader import load_tokenizer

    scale = scale_arg()
    n = SCALES[scale]
    texts = pds.dataset(corpus(n)).to_table(columns=["text"]).column("text").to_pylist()
    parts = batches(texts)
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_tokenizers(texts[: max(1000, n // 4)], Path(tmp))
        bare = bare_encoders(paths)
        for kind, path in paths.items():
            begin_run(f"bench-tokenizer-{kind}")  # load afresh, as a new worker would
            tok = load_tokenizer(str(path))
            peer_s, peer_tokens, ours_s, ours_tokens = interleaved(
                bare[kind], lambda batch, tok=tok: int(tok.encode(batch)[1].sum()), parts)
            ok &= ours_tokens == peer_tokens and ours_s <= LIMIT * peer_s
            rows.append([kind, f"{peer_tokens:,}", "same" if ours_tokens == peer_tokens else "DIFFERENT",
                         f"{peer_s:.2f}", f"{ours_s:.2f}", f"{peer_tokens / peer_s / 1e6:.2f}",
                         f"{ours_tokens / ours_s / 1e6:.2f}", f"{ours_s / peer_s:.3f}"])
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print("\n".join([
        "### Tokenizer loader vs the bare encoders",
        "",
        f"{n:,} generated documents ({mb:.1f} MB of text) in batches of {BATCH_ROWS:,}; one encoding thread; "
        f"bare and loader in turns on each batch, {REPEAT} times, each batch counting its fewest CPU seconds; load average {load_average()}; {versions('tokenizers', 'sentencepiece', 'tiktoken')}. "
        f"The loader's side also builds the flat int64 token array and the count per text.",
        "",
        md_table(["tokenizer", "tokens", "loader's tokens", "bare CPU s", "loader CPU s", "bare M tok/s/core",
                  "loader M tok/s/core", "CPU ratio"], rows),
    ]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
