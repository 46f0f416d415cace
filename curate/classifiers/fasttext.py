"""fastText supervised models: training, loading and batch prediction over Arrow string arrays.

A model curate trains is scored with the preprocessing it was trained with (its card says
``curate``); a public model is fed its text as fastText's own ``predict`` would be
(:mod:`curate.classifiers.preprocess`). The fastText build is
``fasttext-community`` (docs/classify.md says why not the other numpy-2 builds); ``fasttext`` is
imported inside functions so that stage discovery stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import ConfigError, import_extra
from curate.store.atomic import atomic_path
from curate.store.storage import Storage

LABEL_PREFIX = "__label__"


@dataclass(frozen=True)
class TrainParams:
    """fastText supervised hyper-parameters (names as on the CLI). threads=1 makes a seed reproducible."""

    epochs: int = 10
    lr: float = 0.1
    word_ngrams: int = 2
    dim: int = 64
    bucket: int = 200_000
    minn: int = 0
    maxn: int = 0
    min_count: int = 1
    loss: str = "softmax"
    seed: int = 0
    threads: int = 1

    def validate(self) -> None:
        """Raise ConfigError for values fastText would reject or crash on."""
        checks = [
            (self.epochs >= 1, "epochs must be >= 1"),
            (0 < self.lr <= 10, "lr must be in (0, 10]"),
            (1 <= self.word_ngrams <= 5, "word_ngrams must be in 1..5"),
            (1 <= self.dim <= 1024, "dim must be in 1..1024"),
            (self.bucket >= 0, "bucket must be >= 0"),
            (0 <= self.minn <= self.maxn <= 10, "need 0 <= minn <= maxn <= 10"),
            (self.min_count >= 1, "min_count must be >= 1"),
            (self.loss in ("softmax", "ova", "hs", "ns"), "loss must be one of softmax, ova, hs, ns"),
            (self.threads >= 1, "threads must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"fastText parameter: {message}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_fasttext(needed_for: str) -> Any:
    """The fasttext module (the ``classify`` extra); MissingExtra naming it when not installed."""
    return import_extra("fasttext", "classify", needed_for)


def train(train_file: str | Path, params: TrainParams) -> Any:
    """Train a supervised fastText model on a file of ``__label__X text`` lines; returns the model."""
    fasttext = require_fasttext("training a fastText classifier")

    params.validate()
    try:
        return fasttext.train_supervised(
            input=str(train_file), epoch=params.epochs, lr=params.lr, wordNgrams=params.word_ngrams,
            dim=params.dim, bucket=params.bucket, minn=params.minn, maxn=params.maxn, minCount=params.min_count,
            loss=params.loss, seed=params.seed, thread=params.threads, label=LABEL_PREFIX, verbose=0,
        )
    except RuntimeError as exc:
        if "NaN" in str(exc):
            raise ConfigError(f"fastText training diverged (NaN) with lr={params.lr}: lower --lr") from None
        raise


def save(model: Any, path: str | Path, storage: Storage | None = None) -> None:
    """Write the model binary atomically (a reader never sees half a model)."""
    with atomic_path(path, storage) as tmp:
        model.save_model(str(tmp))


class Classifier:
    """A loaded supervised fastText model with batch prediction over Arrow string arrays."""

    def __init__(self, model: Any, path: str, weights: dict[str, float] | None = None) -> None:
        self.model = model
        self.path = path
        self.prefix = model.f.getArgs().label
        raw = model.get_labels()
        self.labels: list[str] = [lab[len(self.prefix):] if lab.startswith(self.prefix) else lab for lab in raw]
        self._raw = {lab: r for lab, r in zip(self.labels, raw)}
        # Label weights of a model trained with --balance weight (see curate.classifiers.balance):
        # probabilities are multiplied by them and renormalised.
        self.weights = weights
        self._raw_weights = None if weights is None else {self._raw[lab]: w for lab, w in weights.items()
                                                          if lab in self._raw}

    @classmethod
    def load(cls, path: str | Path, what: str = "model", storage: Storage | None = None) -> Classifier:
        """Load a .bin/.ftz model, a local path or a URI read with `storage` (default: the
        environment's options; from a local copy, as fastText reads only local files);
        ConfigError naming `path` when it is missing, truncated or corrupt (see
        :mod:`curate.classifiers.model_file`) or not a supervised fastText model."""
        fasttext = require_fasttext(f"the fastText {what} {path}")

        from curate.classifiers.model_file import (  # numba: loaded on first use
            CBOW,
            SKIPGRAM,
            SUPERVISED,
            check_model_file,
        )

        storage = storage or Storage()
        if not storage.file_exists(path):
            raise ConfigError(f"{what} file not found: {path}")
        local = storage.stage_file(path, f"{what} file")
        try:
            layout = check_model_file(local)  # fastText itself loads a short or corrupt file silently, or hangs
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(local), str(path))) from None
        if layout.model != SUPERVISED:  # word vectors: get_labels() lists their words, predict() raises
            kind = {CBOW: "cbow", SKIPGRAM: "skipgram"}.get(layout.model, f"model type {layout.model}")
            raise ConfigError(f"{what} {path} is an unsupervised fastText model ({kind} word vectors), not a "
                              "supervised classifier")
        try:
            model = fasttext.load_model(str(local))
        except (ValueError, RuntimeError, MemoryError) as exc:
            raise ConfigError(f"{what} {path} is not a readable fastText model: {exc}") from None
        if not model.get_labels():
            raise ConfigError(f"{what} {path} is not a supervised fastText classifier (it has no labels)")
        from curate.classifiers.card import label_weights

        return cls(model, str(path), label_weights(path, storage))  # the card beside `path`, not its copy

    def require_label(self, label: str) -> None:
        if label not in self._raw:
            raise ConfigError(f"label '{label}' is not a label of model {self.path} (labels: {', '.join(self.labels)})")

    def predict(self, texts: pa.Array | pa.ChunkedArray | Sequence[str | None],
                label: str | None = None, preprocess: str = "curate") -> tuple[pa.Array, pa.Array]:
        """(top label, score) per text; score is P(`label`) if given, else P(top label). `preprocess`
        is ``curate`` (curate's normalisation, for the models it trains) or ``fasttext`` (newlines to
        spaces only, what a public model expects): see :mod:`curate.classifiers.preprocess`.

        A text with no words after preprocessing gets a null label and a null score."""
        from curate.classifiers.preprocess import lines_for, no_words  # numba: loaded on first use

        if label is not None:
            self.require_label(label)
        lines = lines_for(texts, preprocess)
        top, score = self.predict_lines(lines.to_pylist(), label)
        # fastText would still answer for an empty line (from its end-of-line token alone).
        empty = no_words(lines)
        if pc.any(empty).as_py():
            top = pc.if_else(empty, pa.scalar(None, pa.string()), top)
            score = pc.if_else(empty, pa.scalar(None, pa.float64()), score)
        return top, score

    def predict_lines(self, lines: list[str], label: str | None = None) -> tuple[pa.Array, pa.Array]:
        """Like :meth:`predict` for lines already preprocessed, each ending in a newline."""
        if not lines:
            return pa.array([], pa.string()), pa.array([], pa.float64())
        want = None
        if label is not None:
            self.require_label(label)
            want = self._raw[label]
        weighted = self._raw_weights is not None
        k = -1 if (want is not None or weighted) and len(self.labels) > 1 else 1
        # The binding's batch call: what FastText.predict does for a list, minus its per-line
        # Python check for "\n" that preprocess already guarantees.
        labels_ll, probs_ll = self.model.f.multilinePredict(lines, k, 0.0, "replace")
        if weighted:
            top, top_p, want_p = _gather_weighted(labels_ll, probs_ll, self._raw_weights, want)
        else:
            top, top_p, want_p = _gather(labels_ll, probs_ll, want)
        top_arr = pc.utf8_slice_codeunits(pa.array(top, pa.string()), len(self.prefix))
        score = want_p if want is not None else top_p
        score = np.clip(score, 0.0, 1.0)  # fastText reports p + 1e-5 (its log guard), up to 1.00001
        return top_arr, pa.array(score, pa.float64(), mask=np.isnan(score))


def _gather(labels_ll: list[list[str]], probs_ll: list[np.ndarray],
            want: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top label, its probability and P(want) per row from fastText's list-of-lists output
    (vectorized over rows when every row has the same number of labels, the usual case)."""
    n = len(labels_ll)
    lengths = np.fromiter(map(len, labels_ll), dtype=np.int64, count=n)
    top = np.full(n, None, dtype=object)
    top_p = np.full(n, math.nan)
    want_p = np.full(n, math.nan)
    if n == 0 or lengths.max() == 0:
        return top, top_p, want_p
    width = int(lengths.max())
    full = np.flatnonzero(lengths == width)
    if len(full) == n:
        lab = np.array(labels_ll, dtype=object)
        prob = np.vstack(probs_ll).astype(np.float64)
    else:
        lab = np.array([labels_ll[i] for i in full], dtype=object)
        prob = np.vstack([probs_ll[i] for i in full]).astype(np.float64)
    top[full] = lab[:, 0]
    top_p[full] = prob[:, 0]
    if want is not None:
        hit = lab == want
        found = hit.any(axis=1)
        # With k=-1 every label is listed, so a missing one only happens under fastText's
        # threshold; its probability is then ~0.
        want_p[full] = np.where(found, (prob * hit).sum(axis=1), 0.0)
    partial = np.flatnonzero((lengths > 0) & (lengths < width))
    for i in partial:  # rare: rows with fewer labels than the others
        top[i], top_p[i] = labels_ll[i][0], float(probs_ll[i][0])
        if want is not None:
            d = dict(zip(labels_ll[i], probs_ll[i]))
            want_p[i] = float(d.get(want, 0.0))
    return top, top_p, want_p


def _gather_weighted(labels_ll: list[list[str]], probs_ll: list[np.ndarray], weights: dict[str, float],
                     want: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`_gather` for the full distribution (k=-1) reweighted: p'_L = w_L p_L / sum_j w_j p_j."""
    n = len(labels_ll)
    lab = np.array(labels_ll, dtype=object).reshape(n, -1)
    prob = np.vstack(probs_ll).astype(np.float64) if n else np.zeros((0, lab.shape[1]))
    w = np.vectorize(lambda x: weights.get(x, 1.0), otypes=[np.float64])(lab) if n else prob
    p = prob * w
    p /= p.sum(axis=1, keepdims=True)
    best = p.argmax(axis=1)
    rows = np.arange(n)
    want_p = (p * (lab == want)).sum(axis=1) if want is not None else np.full(n, math.nan)
    return lab[rows, best], p[rows, best], want_p
