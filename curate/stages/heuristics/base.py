"""The shape shared by every heuristic rule set: measure signals, write them as columns, name
the first failed rule in ``<set>_reject``.

A rule set declares its signals (name and Arrow type, written as ``<set>_<signal>`` columns)
and its rules (which signal, which parameters bound it). It never drops rows: the ``filter``
stage turns ``<set>_reject`` into a ``reject_reason``. Scores stay beside the documents, so
thresholds can be re-applied later without re-measuring (as dolma does with attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate import schema
from curate.pipeline.stage import MapStage, Param, TaskContext, set_column, warm_up_context
from curate.stages.heuristics.text import TextBatch


@dataclass(frozen=True)
class Rule:
    """One rule: `signal` must lie within [params[min_param], params[max_param]].

    A bound whose parameter is None (null in YAML) is disabled. For a boolean signal, set
    ``flag_param``: the rule fails where the signal is true and that parameter is true.
    """

    name: str
    signal: str
    min_param: str | None = None
    max_param: str | None = None
    flag_param: str | None = None

    def params(self) -> tuple[str, ...]:
        return tuple(p for p in (self.min_param, self.max_param, self.flag_param) if p)

    def fails(self, values: np.ndarray, config: dict[str, Any]) -> np.ndarray:
        """Boolean mask of documents failing this rule (NaN, i.e. undefined, never fails)."""
        out = np.zeros(len(values), dtype=bool)
        if self.flag_param is not None:
            if config[self.flag_param]:
                out |= values.astype(bool)
            return out
        lo = config[self.min_param] if self.min_param else None
        hi = config[self.max_param] if self.max_param else None
        with np.errstate(invalid="ignore"):
            if lo is not None:
                out |= values < lo
            if hi is not None:
                out |= values > hi
        return out


def threshold(default: float | int | None, help: str, kind: type = float, **bounds: Any) -> Param:
    """A rule threshold: nullable (null disables the bound)."""
    types: type | tuple[type, ...] = (int, float) if kind is float else kind
    return Param(types, default, help, nullable=True, **bounds)


class TextKernelStage(MapStage):
    """A map stage built on the text kernels of curate.stages.heuristics (the rule sets,
    c4_clean): the line and character kernels and spaCy's word tokenizer. It warms them up by
    processing the sample and tokenizing it (a stage that counts no words still compiles the
    tokenizer once, so that its kernels are all cached afterwards)."""

    def kernels(self) -> list[Any]:
        from curate.stages.heuristics.kernels import kernels
        from curate.stages.heuristics.spacy_words import tokenize_kernel

        return [*vars(kernels()).values(), tokenize_kernel()]

    def warm_up(self, sample: pa.Table) -> None:
        self.process(sample, warm_up_context())
        _ = TextBatch(sample.column(schema.TEXT)).tokens


class HeuristicStage(TextKernelStage):
    """Base of the rule-set stages: subclasses define ``signals``, ``rules`` and ``measure``."""

    signals: ClassVar[dict[str, pa.DataType]] = {}
    rules: ClassVar[tuple[Rule, ...]] = ()

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        """Compute every declared signal for every document of the batch."""
        raise NotImplementedError

    def signal_columns(self) -> list[str]:
        """Names of the columns this stage writes, reject column last."""
        return [schema.signal_column(self.name, s) for s in self.signals] + [schema.reject_column(self.name)]

    def produced_columns(self) -> tuple[str, ...]:
        return tuple(self.signal_columns())

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return self.annotate(table, TextBatch(table.column(schema.TEXT)), ctx)

    def annotate(self, table: pa.Table, batch: TextBatch, ctx: TaskContext | None = None) -> pa.Table:
        """Add the signal columns and ``<set>_reject`` to `table` (whose text `batch` views)."""
        values = self.measure(batch)
        for sig, typ in self.signals.items():
            table = set_column(table, schema.signal_column(self.name, sig), _to_arrow(values[sig], typ))
        reasons = self.first_failed(values)
        if ctx is not None:
            for name, n in zip(*np.unique(reasons, return_counts=True)):
                if name:
                    ctx.count(f"flagged:{self.name}:{name}", int(n))
        return set_column(table, schema.reject_column(self.name), pa.array(reasons, pa.string()))

    def first_failed(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Name of the first failing rule per document, "" where every rule passes."""
        n = len(next(iter(values.values()))) if values else 0
        names = np.array([r.name for r in self.rules] + [""], dtype=object)
        if not self.rules or n == 0:
            return np.full(n, "", dtype=object)
        fails = np.stack([r.fails(np.asarray(values[r.signal]), self.config) for r in self.rules])
        first = np.where(fails.any(axis=0), fails.argmax(axis=0), len(self.rules))
        return names[first]


def _to_arrow(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    values = np.asarray(values)
    if pa.types.is_floating(typ):
        values = values.astype(np.float64, copy=False)
        nan = np.isnan(values)
        return pa.array(values, type=typ, mask=nan if nan.any() else None)
    return pa.array(values.astype(typ.to_pandas_dtype(), copy=False), type=typ)
