"""Helpers for the heuristic rule-set tests: run a stage on texts, build documents."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from curate import schema
from curate.pipeline.registry import get_stage_class
from curate.pipeline.stage import TaskContext


def ctx() -> TaskContext:
    return TaskContext(task_index=0, n_tasks=1, source="test", seed=0)


def run(stage: str, texts: list[str], **params: Any) -> pa.Table:
    """Run stage `stage` with `params` on a table of `texts`."""
    table = pa.table({schema.ID: [str(i) for i in range(len(texts))], schema.TEXT: texts})
    return get_stage_class(stage)(**params).process(table, ctx())


def signals(stage: str, text: str, **params: Any) -> dict[str, Any]:
    """The signals and the reject value of `stage` on one document, keyed by signal name."""
    row = run(stage, [text], **params).slice(0, 1).to_pylist()[0]
    prefix = schema.signal_column(stage, "")
    out = {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}
    out["reject"] = row[schema.reject_column(stage)]
    return out


def reject(stage: str, text: str, **params: Any) -> str:
    return signals(stage, text, **params)["reject"]


def disabled(stage: str, rule: str) -> dict[str, None]:
    """Parameters that switch off every bound of rule `rule` of `stage`."""
    cls = get_stage_class(stage)
    (r,) = [r for r in cls.rules if r.name == rule]
    return {p: None for p in (r.min_param, r.max_param) if p}


def pseudo_words(n: int, seed: int = 0, syllables: tuple[int, int] = (2, 3)) -> list[str]:
    """`n` distinct lowercase pseudo-words (no repeats, so no repeated n-grams)."""
    rng = np.random.default_rng(seed)
    cons, vows = "bdfgklmnprstvz", "aeiou"
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        k = int(rng.integers(syllables[0], syllables[1] + 1))
        w = "".join(cons[rng.integers(len(cons))] + vows[rng.integers(len(vows))] for _ in range(k))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def sentences(words: list[str], per_sentence: int = 10, end: str = ".") -> list[str]:
    """Group words into capitalized sentences ending with `end`."""
    out = []
    for i in range(0, len(words), per_sentence):
        chunk = words[i:i + per_sentence]
        out.append(" ".join([chunk[0].capitalize(), *chunk[1:]]) + end)
    return out
