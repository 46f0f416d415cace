"""Train a fastText classifier from labelled shards: read, split, train, evaluate, write model + card.

The train/valid split is deterministic: a document is held out when the seeded hash of its id
falls below ``valid_fraction`` (so the split does not depend on shard layout). Documents whose
label is null, or whose text has no words after preprocessing, are skipped and counted.
The model card (``MODEL.json`` beside ``MODEL.bin``) records labels, sizes, held-out metrics,
hyper-parameters and the preprocessing, so a model file can always be explained.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import __version__, schema
from curate.classifiers import balance as balance_mod
from curate.classifiers import fasttext as ft
from curate.classifiers.card import card_path
from curate.classifiers.metrics import classification_report
from curate.classifiers.preprocess import PREPROCESSING, preprocess
from curate.errors import ConfigError, InputError
from curate.io import read as reader
from curate.store.atomic import writable, write_json
from curate.store.storage import Storage
from curate.text.id_hash import id_uniforms

EVAL_CHUNK = 20_000  # held-out lines scored per fastText call
MAX_LABELS = 1_000  # more distinct values than this is an id-like column (a URL), not a label
LOW_RECALL = 0.5  # a label recalled less often than this gets a warning


def labelled_batches(input_path: str | Path, label_column: str, text_column: str = schema.TEXT,
                     id_column: str = schema.ID, storage: Storage | None = None) -> Iterator[tuple[str, pa.Table]]:
    """(file, table with id, text, label and the reader's row column) for every batch of the input
    (a local path or a URI read with `storage`, default the environment's options)."""
    storage = storage or Storage()
    columns = reader.ColumnMap(id_column, text_column, paths=(label_column,))  # metadata.kind: a struct's field
    tasks = reader.plan_tasks(reader.discover(input_path, storage=storage), storage=storage)
    seen: dict[str, tuple[str, pa.Schema]] = {}
    for t in tasks:
        if t.rel not in seen:
            seen[t.rel] = (t.rel, reader.file_schema(t.path, t.fmt, t.rel, columns, storage=storage))
    target = reader.unify_schemas(list(seen.values()), columns)
    if label_column in (id_column, text_column):
        raise ConfigError(f"--label-column '{label_column}' is also the id or text column")
    if label_column not in target.names:
        raise ConfigError(f"label column '{label_column}' not found in {input_path} "
                          f"(columns: {', '.join(n for n in target.names)})")
    for task in tasks:
        for table in reader.read_task(task, target, columns, project=[schema.ID, schema.TEXT, label_column]):
            yield task.rel, table


def _labels(table: pa.Table, label_column: str, rel: str) -> pa.Array:
    """The label column as strings; a label containing whitespace is an InputError naming the row."""
    labels = table.column(label_column)
    if not schema.is_string_type(labels.type):
        labels = labels.cast(pa.string())
    bad = pc.fill_null(pc.match_substring_regex(labels, r"\s"), False)
    if pc.any(bad).as_py():
        i = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
        row = int(table.column(reader.ROW)[i].as_py())
        raise InputError(f"label {labels[i].as_py()!r} contains whitespace (fastText labels are single words)",
                         file=rel, row=row)
    empty = pc.fill_null(pc.equal(labels, ""), False)
    return pc.if_else(empty, pa.scalar(None, pa.string()), labels).combine_chunks()


def train_classifier(input: str | Path, label_column: str, output: str | Path, *, text_column: str = schema.TEXT,
                     id_column: str = schema.ID, valid_fraction: float = 0.1,
                     params: ft.TrainParams | None = None, log: Callable[[str], None] | None = None,
                     balance: str = balance_mod.DEFAULT, max_labels: int = MAX_LABELS,
                     warn: Callable[[str], None] | None = None, storage: Storage | None = None,
                     **param_overrides: Any) -> dict[str, Any]:
    """Train a supervised fastText model on the labelled shards in `input`; write `output` (the
    model, atomically) and its JSON card; return the card. `balance` is one of
    :data:`curate.classifiers.balance.MODES`; a label column with more than `max_labels` distinct
    values is refused before training. `warn` gets the card's warnings (labels with a held-out
    recall below ``LOW_RECALL``). `param_overrides` are TrainParams fields (epochs, lr,
    word_ngrams, dim, bucket, minn, maxn, min_count, loss, seed, threads). Files at URIs are read
    and written with `storage` (default: the environment's options)."""
    ft.require_fasttext("train-classifier")  # before reading any data
    started = time.time()
    params = params or ft.TrainParams()
    if param_overrides:
        unknown = sorted(set(param_overrides) - set(params.to_dict()))
        if unknown:
            raise ConfigError(f"unknown training parameter(s): {', '.join(unknown)}")
        params = ft.TrainParams(**{**params.to_dict(), **param_overrides})
    params.validate()
    if balance not in balance_mod.MODES:
        raise ConfigError(f"balance must be one of {', '.join(balance_mod.MODES)}, got {balance!r}")
    if max_labels < 2:
        raise ConfigError(f"max_labels must be >= 2, got {max_labels}")
    if not 0.0 <= valid_fraction < 1.0:
        raise ConfigError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    output = str(output)  # a local path or a URI: written through a local file, then uploaded
    writable(output, storage)
    say = log or (lambda _msg: None)

    counts = {"train": Counter(), "valid": Counter()}
    skipped = {"no_label": 0, "no_words": 0}
    with tempfile.TemporaryDirectory(prefix="curate-train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        valid_file = Path(tmp) / "valid.tsv"
        with open(train_file, "w", encoding="utf-8") as tf, open(valid_file, "w", encoding="utf-8") as vf:
            for rel, table in labelled_batches(input, label_column, text_column, id_column, storage):
                labels = _labels(table, label_column, rel)
                lines = preprocess(table.column(schema.TEXT))
                has_label = pc.is_valid(labels)
                has_words = pc.greater(pc.utf8_length(lines), 0)
                skipped["no_label"] += int(pc.sum(pc.invert(has_label)).as_py() or 0)
                skipped["no_words"] += int(pc.sum(pc.and_(has_label, pc.invert(has_words))).as_py() or 0)
                keep = pc.and_(has_label, has_words)
                held = id_uniforms(table.column(schema.ID), params.seed) < valid_fraction
                for split, mask, fh in (("train", pc.and_(keep, pa.array(~held)), tf),
                                        ("valid", pc.and_(keep, pa.array(held)), vf)):
                    lab = labels.filter(mask)
                    txt = lines.filter(mask)
                    if len(lab) == 0:
                        continue
                    counts[split].update(lab.to_pylist())
                    if split == "train":
                        rows = pc.binary_join_element_wise(pc.binary_join_element_wise(ft.LABEL_PREFIX, lab, ""),
                                                           txt, " ")
                    else:
                        rows = pc.binary_join_element_wise(lab, txt, "\t")
                    fh.write("\n".join(rows.to_pylist()))
                    fh.write("\n")
        n_train, n_valid = sum(counts["train"].values()), sum(counts["valid"].values())
        if n_train == 0:
            raise ConfigError(f"no labelled documents to train on in {input} (skipped: {skipped})")
        distinct = len(counts["train"] | counts["valid"])
        if distinct > max_labels:
            raise ConfigError(f"label column '{label_column}' has {distinct:,} distinct values, more than "
                              f"--max-labels {max_labels:,}: is it really a label? (raise --max-labels if so)")
        if len(counts["train"]) < 2:
            raise ConfigError(f"need at least 2 distinct labels to train a classifier, found {sorted(counts['train'])}")
        fit_file, fit_counts = balance_mod.rebalance(train_file, counts["train"], balance, params.seed,
                                                     ft.LABEL_PREFIX)
        weights = balance_mod.label_weights(counts["train"]) if balance == "weight" else None
        if weights is not None and set(weights.values()) == {1.0}:
            weights = None  # a balanced corpus: nothing to correct
        say(f"training on {n_train:,} documents ({len(counts['train'])} labels; balance {balance}: "
            f"{sum(fit_counts.values()):,} training lines), {n_valid:,} held out")
        t0 = time.time()
        model = ft.train(fit_file, params)
        train_seconds = time.time() - t0
        classifier = ft.Classifier(model, output, weights)
        metrics = _evaluate(classifier, valid_file) if n_valid else None
    warnings = low_recall_warnings(metrics)
    for message in warnings:
        (warn or say)(message)
    ft.save(model, output, storage)
    card = {
        "model": output.rsplit("/", 1)[-1],
        "format": "fastText supervised",
        "labels": classifier.labels,
        "label_column": label_column,
        "input": str(input),
        "train_docs": n_train,
        "valid_docs": n_valid,
        "valid_fraction": valid_fraction,
        "label_counts": {split: dict(sorted(c.items())) for split, c in counts.items()},
        "balance": balance,
        "balanced_train_counts": dict(sorted(fit_counts.items())),
        **({"label_weights": weights} if weights is not None else {}),
        "warnings": warnings,
        "skipped": skipped,
        "metrics": metrics,
        "params": params.to_dict(),
        "preprocessing": PREPROCESSING,
        "train_seconds": round(train_seconds, 3),
        "seconds": round(time.time() - started, 3),
        "curate_version": __version__,
    }
    write_json(card_path(output), card, storage)
    return card


def low_recall_warnings(metrics: dict[str, Any] | None) -> list[str]:
    """One warning per label whose held-out recall is below LOW_RECALL (accuracy and macro F1 can
    look fine while a minority label is never predicted)."""
    if not metrics:
        return []
    return [f"label '{lab}' has a held-out recall of {m['recall']:.2f} (< {LOW_RECALL}) on {m['support']:,} "
            f"documents: the model rarely predicts it (try --balance upsample or more epochs)"
            for lab, m in metrics["per_label"].items() if m["support"] > 0 and m["recall"] < LOW_RECALL]


def _evaluate(classifier: ft.Classifier, valid_file: Path) -> dict[str, Any]:
    """Score the held-out lines in chunks (memory bounded) and compare with their labels."""
    truth: list[str] = []
    predicted: list[str | None] = []
    with open(valid_file, encoding="utf-8") as fh:
        while True:
            chunk = [line for _, line in zip(range(EVAL_CHUNK), fh)]
            if not chunk:
                break
            labs, texts = zip(*(line.split("\t", 1) for line in chunk))
            top, _ = classifier.predict_lines(list(texts))
            truth.extend(labs)
            predicted.extend(top.to_pylist())
    return classification_report(truth, predicted, sorted(set(truth) | set(classifier.labels)))
