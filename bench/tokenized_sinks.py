"""Tokenized sinks next to datatrove's DocumentTokenizer: tokens per second per core, same
documents, same tokenizer, same run.

The documents are the generated benchmark corpus; the tokenizer is a byte-level BPE of 16,000
entries trained on part of it (no tokenizer is downloaded). Both sides use the `tokenizers`
package with one thread (``RAYON_RS_NUM_CPUS=1``, set before it loads), so CPU seconds are the
cost per core. curate writes its Megatron and datatrove sinks from Arrow batches of 8,192 rows;
datatrove's ``DocumentTokenizer`` (``shuffle_documents=False``, its default batch of 10,000)
gets ``Document`` objects made beforehand, outside the timing. Both write to a local temporary
directory; the two ``.ds`` files are checked to be identical.

Run: ``python bench/tokenized_sinks.py --scale small|full``; prints Markdown on stdout.
"""

from __future__ import annotations

import os

os.environ["RAYON_RS_NUM_CPUS"] = "1"  # before tokenizers loads: one encoding thread on both sides

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus, md_table, scale_arg  # noqa: E402
from quality import timed  # noqa: E402

SCALES = {"small": 4_000, "full": 40_000}
BATCH_ROWS = 8192
EOS = "<|endoftext|>"


def train_tokenizer(texts: list[str], path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=16_000, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(path))


def encode_only(table, tokenizer: Path) -> int:  # noqa: ANN001
    """The floor: the batch encoder over the same batches, nothing written."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    return sum(len(e) for start in range(0, table.num_rows, BATCH_ROWS)
               for e in tok.encode_batch_fast(table.column("text").slice(start, BATCH_ROWS).to_pylist(),
                                              add_special_tokens=False))


def run_curate(fmt: str, table, tokenizer: Path, out: Path) -> dict:  # noqa: ANN001
    from curate.sinks import SinkSpec
    from curate.store.cache import begin_run
    from curate.store.layout import WorkStore

    begin_run(f"bench-{fmt}-{out.name}")  # load the tokenizer afresh, as a new worker would
    spec = SinkSpec.from_config(fmt, {"from": "x", "format": fmt, "tokenizer": str(tokenizer)})
    store = WorkStore.open(out)
    writer = spec.open(store.files, f"{store.root}/{fmt}", 0)
    for start in range(0, table.num_rows, BATCH_ROWS):
        writer.write(table.slice(start, BATCH_ROWS))
    return writer.close(table.schema)


def run_datatrove(docs: list, tokenizer: Path, out: Path) -> Path:
    from datatrove.pipeline.tokens import DocumentTokenizer

    step = DocumentTokenizer(output_folder=str(out), tokenizer_name_or_path=str(tokenizer), eos_token=EOS,
                             shuffle_documents=False)
    step.run(iter(docs), rank=0, world_size=1)
    return out / "00000_unshuffled.ds"


def main() -> int:
    import pyarrow.dataset as pds
    from datatrove.data import Document
    from datatrove.pipeline.tokens import DocumentTokenizer  # noqa: F401 - sets up its logging first
    from loguru import logger

    logger.remove()  # datatrove logs every step through loguru
    scale = scale_arg()
    n = SCALES[scale]
    table = pds.dataset(corpus(n)).to_table(columns=["id", "text"])
    texts = table.column("text").to_pylist()
    docs = [Document(text=t, id=i) for t, i in zip(texts, table.column("id").to_pylist())]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        tokenizer = tmp_path / "tokenizer.json"
        train_tokenizer(texts[: max(1000, n // 4)], tokenizer)
        rows, results = [], {}
        for label, fn in [
            ("encoding alone (tokenizers encode_batch_fast)", lambda: encode_only(table, tokenizer)),
            ("curate megatron sink", lambda: run_curate("megatron", table, tokenizer, tmp_path / "m")),
            ("curate datatrove sink", lambda: run_curate("datatrove", table, tokenizer, tmp_path / "c")),
            ("datatrove DocumentTokenizer", lambda: run_datatrove(docs, tokenizer, tmp_path / "d")),
        ]:
            seconds, result = timed(fn, repeat=3)
            results[label] = result
            rows.append([label, seconds])
        tokens = results["curate megatron sink"]["tokens"]
        rows = [[label, f"{seconds:.2f}", f"{tokens / seconds / 1e6:.2f}"] for label, seconds in rows]
        same = (tmp_path / "c" / "datatrove" / "part-00000.ds").read_bytes() == \
            results["datatrove DocumentTokenizer"].read_bytes()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    return print("\n".join([
        "### Tokenized sinks vs datatrove's DocumentTokenizer",
        "",
        f"{n:,} generated documents ({mb:.1f} MB of text), {tokens:,} tokens with EOS, byte-level BPE of "
        f"16,000 entries, one tokenizer thread each; fewest CPU seconds of 3 runs. The `.ds` files of curate's "
        f"datatrove sink and of DocumentTokenizer are {'identical' if same else 'DIFFERENT'}.",
        "",
        md_table(["writer", "CPU s", "M tokens / s / core"], rows),
    ])) or (0 if same else 1)


if __name__ == "__main__":
    sys.exit(main())
