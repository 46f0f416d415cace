"""Train the demo's fastText models the way a user would: ``python -m curate.train_models --out models/``.

Nothing here looks at the documents the models will later score. The training corpora are
generated with their own seeds (the bundled ``sample_data/`` uses seed 0):

- quality (``hq`` vs ``lq``): reference-like documents (``kind="reference"``, the stand-in for
  curated sources such as Wikipedia or books) labelled ``hq`` against random web-like documents
  labelled ``lq`` — the recipe of model-based quality filters such as DCLM's fastText filter and
  GPT-3's quality classifier. Random web documents include good ones, and a share of labels is
  flipped (``label_noise``), so the model learns "looks like reference text", not the generator's
  tiers; the tests then check that it separates those tiers on other data.
- domain: the web corpus's own domain labels (multi-class).
- language ID: generated sentences in six languages (character n-grams, like fastText's lid.176).

Each model is trained by :func:`curate.classifiers.train.train_classifier` from Parquet shards,
the path ``curate train-classifier`` takes, and gets a JSON card beside it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import schema
from curate.classifiers.fasttext import TrainParams
from curate.classifiers.train import train_classifier
from curate.text.id_hash import id_uniforms

# Seeds of the training corpora: anything but 0, the seed of sample_data/.
REFERENCE_SEED = 1001
WEB_SEED = 1002
LANGUAGE_SEED = 1003
LABEL_COLUMN = "label"
HQ, LQ = "hq", "lq"

QUALITY_PARAMS = TrainParams(epochs=10, lr=0.1, word_ngrams=2, dim=32, bucket=100_000)
DOMAIN_PARAMS = TrainParams(epochs=10, lr=0.2, word_ngrams=2, dim=32, bucket=100_000)
# Character n-grams carry language identity (and segment scripts written without spaces).
LID_PARAMS = TrainParams(epochs=15, lr=0.5, word_ngrams=1, dim=16, bucket=50_000, minn=2, maxn=4)


def quality_corpus(out_dir: Path, web_dir: Path, n_reference: int, label_noise: float, seed: int) -> Path:
    """Write labelled shards: `n_reference` reference documents (hq) and as many random web ones
    (lq, drawn from `web_dir`), with a `label_noise` share of labels flipped."""
    from curate.sample_data import generate

    ref_dir = out_dir / "reference"
    generate(ref_dir, n_docs=n_reference, seed=seed + REFERENCE_SEED, kind="reference", n_shards=1)
    ref = pq.read_table(ref_dir, columns=[schema.ID, schema.TEXT])
    web = pq.read_table(web_dir, columns=[schema.ID, schema.TEXT])
    # A random sample of the web corpus (by seeded id hash): the "random web documents".
    order = np.argsort(id_uniforms(web.column(schema.ID), seed), kind="stable")[:n_reference]
    web = web.take(pa.array(order))
    ids = pa.concat_arrays([pc.binary_join_element_wise("ref-", ref.column(schema.ID).combine_chunks(), ""),
                            pc.binary_join_element_wise("web-", web.column(schema.ID).combine_chunks(), "")])
    is_hq = np.concatenate([np.ones(ref.num_rows, bool), np.zeros(web.num_rows, bool)])
    flip = id_uniforms(ids, seed + 1) < label_noise
    labels = np.where(is_hq ^ flip, HQ, LQ)
    table = pa.table({schema.ID: ids,
                      schema.TEXT: pa.concat_arrays([ref.column(schema.TEXT).combine_chunks(),
                                                     web.column(schema.TEXT).combine_chunks()]),
                      LABEL_COLUMN: pa.array(labels, pa.string())})
    labelled = out_dir / "quality"
    labelled.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, labelled / "part-00000.parquet")
    return labelled


def language_corpus(out_dir: Path, n_per_language: int, seed: int) -> Path:
    """Write generated sentences with their language as labelled shards, plus `n_per_language`
    English reference-style documents labelled ``en`` (so that English web text, not only short
    sentences, is recognised as English)."""
    from curate.sample_data import generate, language_samples

    table = language_samples(n_per_language=n_per_language, seed=seed + LANGUAGE_SEED)
    en_dir = out_dir / "english"
    generate(en_dir, n_docs=n_per_language, seed=seed + LANGUAGE_SEED, kind="reference", n_shards=1)
    english = pq.read_table(en_dir, columns=[schema.TEXT]).column(schema.TEXT).combine_chunks()
    texts = pa.concat_arrays([table.column(schema.TEXT).combine_chunks(), english])
    labels = pa.concat_arrays([table.column(schema.TRUE_LANGUAGE).combine_chunks(),
                               pa.array(["en"] * len(english), pa.string())])
    ids = pa.array([f"lang-{i:07d}" for i in range(len(texts))], pa.string())
    labelled = out_dir / "language"
    labelled.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({schema.ID: ids, schema.TEXT: texts, LABEL_COLUMN: labels}),
                   labelled / "part-00000.parquet")
    return labelled


def train_all(out: str | Path, n_web: int = 6000, n_reference: int = 3000, n_per_language: int = 400,
              label_noise: float = 0.05, seed: int = 0, threads: int = 1,
              log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Generate the training corpora and write quality.bin, domain.bin and lid.bin (+ cards) into
    `out`; return the cards by model name."""
    from curate.sample_data import generate

    say = log or (lambda _msg: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cards: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="curate-models-") as tmp:
        work = Path(tmp)
        web_dir = work / "web"
        generate(web_dir, n_docs=n_web, seed=seed + WEB_SEED, kind="web", n_shards=2)
        jobs = [
            ("quality", lambda: quality_corpus(work, web_dir, n_reference, label_noise, seed), LABEL_COLUMN,
             QUALITY_PARAMS),
            ("domain", lambda: web_dir, schema.TRUE_DOMAIN, DOMAIN_PARAMS),
            ("lid", lambda: language_corpus(work, n_per_language, seed), LABEL_COLUMN, LID_PARAMS),
        ]
        for name, make, label_column, params in jobs:
            t0 = time.time()
            data = make()
            card = train_classifier(data, label_column, out / f"{name}.bin", params=params, seed=params.seed + seed,
                                    threads=threads)
            m = card["metrics"] or {}
            say(f"{name}: {card['train_docs']:,} training documents, labels {', '.join(card['labels'])}; "
                f"held-out accuracy {m.get('accuracy', float('nan')):.3f}, macro F1 {m.get('macro_f1', float('nan')):.3f} "
                f"({time.time() - t0:.1f} s) -> {out / (name + '.bin')}")
            cards[name] = card
        shutil.rmtree(web_dir, ignore_errors=True)
    return cards


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.train_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="models", help="directory for quality.bin, domain.bin, lid.bin (default: models)")
    parser.add_argument("--web-docs", type=int, default=6000, help="web documents generated (default: 6000)")
    parser.add_argument("--reference-docs", type=int, default=3000,
                        help="reference documents, and as many web ones, for the quality model (default: 3000)")
    parser.add_argument("--label-noise", type=float, default=0.05, help="share of quality labels flipped (default: 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="added to the corpora's own seeds (default: 0)")
    parser.add_argument("--threads", type=int, default=1,
                        help="fastText threads; 1 (default) gives the same models for the same seed")
    args = parser.parse_args(argv)
    t0 = time.time()
    train_all(args.out, n_web=args.web_docs, n_reference=args.reference_docs, label_noise=args.label_noise,
              seed=args.seed, threads=args.threads, log=lambda m: print(m, file=sys.stderr))
    print(f"models written to {args.out} in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
