"""Held-out metrics of a classifier: accuracy, macro F1 and a per-label table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_report(truth: Sequence[str], predicted: Sequence[str | None],
                          labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro F1 (unweighted mean of per-label F1 over `labels`) and per-label precision,
    recall, F1 and support. A prediction of None (no words to classify) counts as wrong."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    labels = sorted(set(truth)) if labels is None else list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    t = np.fromiter((index.get(x, k) for x in truth), dtype=np.int64, count=len(truth))
    p = np.fromiter((index.get(x, k) if x is not None else k + 1 for x in predicted), dtype=np.int64,
                    count=len(predicted))
    n = len(t)
    correct = t == p
    tp = np.bincount(t[correct], minlength=k + 2)[:k].astype(np.float64)
    support = np.bincount(t, minlength=k + 2)[:k].astype(np.float64)
    predicted_n = np.bincount(p, minlength=k + 2)[:k].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_n > 0, tp / predicted_n, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    per_label = {
        lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
              "support": int(support[i]), "predicted": int(predicted_n[i])}
        for i, lab in enumerate(labels)
    }
    return {
        "n": int(n),
        "accuracy": float(correct.mean()) if n else None,
        "macro_f1": float(f1.mean()) if k and n else None,
        "per_label": per_label,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a text table for the terminal."""
    if not report or report.get("n", 0) == 0:
        return "no held-out documents: no metrics"
    rows = [f"held-out documents: {report['n']:,}   accuracy: {report['accuracy']:.4f}   "
            f"macro F1: {report['macro_f1']:.4f}"]
    width = max([5] + [len(lab) for lab in report["per_label"]])
    rows.append(f"{'label':<{width}}  precision  recall      f1  support")
    for lab, m in report["per_label"].items():
        rows.append(f"{lab:<{width}}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:6.4f}  {m['support']:7,}")
    return "\n".join(rows)
