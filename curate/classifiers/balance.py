"""Class balance of a fastText training file: a corpus with a 40:1 label imbalance otherwise
trains a model that never predicts the minority (fastText has no class weights).

- ``none``: the training lines as read.
- ``downsample``: keep each line of label L with probability n_min / n_L (every label ends near
  the rarest's count; data is thrown away).
- ``upsample`` (the default): write each line of label L r_L = n_max / n_L times on average
  (floor(r_L) copies, one more with probability frac(r_L)), r_L capped at ``MAX_UPSAMPLE``.
- ``weight``: the training lines as read, and per-label weights w_L = N / (K n_L) (the
  "balanced" class weights of scikit-learn's ``compute_class_weight``) recorded in the card;
  scoring multiplies fastText's probabilities by them and renormalises: the prior-shift
  correction of Saerens, Latinne & Decaestecker 2002 ("Adjusting the outputs of a classifier to
  new a priori probabilities"), i.e. the posterior under equal class priors.

A corpus whose label counts are within ``IMBALANCE_RATIO`` of each other is trained on as read
under every mode (a 1,767:1,814 corpus needs no fixing, and the default then changes nothing
for it: the same model, byte for byte, as without balancing).

Rebalanced lines are shuffled (seeded) because fastText reads its file in order: copies next to
each other, or all of one label first, would be seen in runs. The shuffle is external (lines go
to random bucket files of bounded size, each bucket is permuted in memory), so memory stays
bounded whatever the corpus size. Everything draws from one seeded generator over the lines in
file order, so a seed gives the same file, and with one thread the same model.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

MODES = ("none", "downsample", "upsample", "weight")
DEFAULT = "upsample"
IMBALANCE_RATIO = 1.5  # largest / smallest label count above which a corpus is rebalanced
MAX_UPSAMPLE = 100  # at most this many copies of a line: a label of 3 documents stays a label of 3 documents
_CHUNK = 100_000  # lines per step
_BUCKET_BYTES = 64 << 20  # target size of one shuffle bucket (held in memory when it is permuted)


def label_weights(counts: Counter) -> dict[str, float]:
    """w_L = N / (K n_L): every label weighs as much in total (all 1 for a balanced corpus)."""
    total, k = sum(counts.values()), len(counts)
    if max(counts.values()) <= IMBALANCE_RATIO * min(counts.values()):
        return {lab: 1.0 for lab in sorted(counts)}
    return {lab: total / (k * n) for lab, n in sorted(counts.items())}


def copies_per_line(counts: Counter, mode: str) -> dict[str, float]:
    """The expected number of copies of one line of each label under `mode`."""
    if mode in ("none", "weight") or max(counts.values()) <= IMBALANCE_RATIO * min(counts.values()):
        return {lab: 1.0 for lab in counts}
    if mode == "downsample":
        low = min(counts.values())
        return {lab: low / n for lab, n in counts.items()}
    if mode == "upsample":
        high = max(counts.values())
        return {lab: min(high / n, MAX_UPSAMPLE) for lab, n in counts.items()}
    raise ValueError(f"unknown balance {mode!r} (known: {', '.join(MODES)})")


def rebalance(train_file: Path, counts: Counter, mode: str, seed: int, prefix: str) -> tuple[Path, Counter]:
    """Rewrite `train_file` (lines ``PREFIXlabel text``) under `mode`; return the file to train on
    and its label counts. ``none`` and ``weight`` return the file unchanged."""
    rates = copies_per_line(counts, mode)
    if all(r == 1.0 for r in rates.values()):
        return train_file, counts
    rng = np.random.default_rng([seed, 0xBA1A])
    expected = train_file.stat().st_size * max(1.0, sum(rates[lab] * n for lab, n in counts.items())
                                               / max(1, sum(counts.values())))
    n_buckets = max(1, math.ceil(expected / _BUCKET_BYTES))
    out_dir = train_file.parent
    buckets = [open(out_dir / f"bucket-{b:05d}.txt", "w", encoding="utf-8") for b in range(n_buckets)]
    new_counts: Counter = Counter()
    try:
        with open(train_file, encoding="utf-8") as fh:
            while True:
                lines = [line for _, line in zip(range(_CHUNK), fh)]
                if not lines:
                    break
                labels = [line[len(prefix):line.index(" ")] for line in lines]
                rate = np.array([rates[lab] for lab in labels])
                n_copies = np.floor(rate).astype(np.int64) + (rng.random(len(lines)) < rate - np.floor(rate))
                index = np.repeat(np.arange(len(lines)), n_copies)
                where = rng.integers(0, n_buckets, len(index))
                for i, b in zip(index.tolist(), where.tolist()):
                    buckets[b].write(lines[i])
                new_counts.update(labels[i] for i in index.tolist())
    finally:
        for b in buckets:
            b.close()
    balanced = out_dir / "train-balanced.txt"
    with open(balanced, "w", encoding="utf-8") as out:
        for b in range(n_buckets):
            path = out_dir / f"bucket-{b:05d}.txt"
            with open(path, encoding="utf-8") as fh:
                lines = fh.readlines()
            out.writelines(lines[i] for i in rng.permutation(len(lines)))
            path.unlink()
    return balanced, new_counts
