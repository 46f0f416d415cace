"""Which columns of a run are quality signals, and the cut-offs the run applied to them.

The cut-offs come from what the run recorded, never from today's defaults:

- the bounds of every threshold rule (``curate.stages.heuristics.base.Rule``: a signal column
  kept within parameters such as ``min_words``), read from each node's resolved parameters in
  the run's manifest. A rule set declares its rules as ``rules`` and its resolved parameters as
  ``config``; the ``heuristics`` stage holds its rule sets as ``children``. The stages are built
  from the manifest through the stage registry, so this module names no stage;
- the score cuts of every bucketing node, read from the ``buckets.json`` it wrote (its
  ``score_column`` and ``cuts``, the lower bound of each bucket but the last).

The signals are the numeric columns the run's stages produce (``produced_columns``), except the
bookkeeping ones shown elsewhere in the report (``dup_count``, ``epoch_index``). Without a
manifest (``--clean-work`` removed it) every numeric column but those is taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate import schema
from curate.errors import CurateError
from curate.pipeline.registry import get_stage_class

# numeric columns that are not quality signals: dedup counts (the duplicates section shows the
# clusters) and the sampler's epoch index (the plan section shows the epochs)
BOOKKEEPING = frozenset({schema.DUP_COUNT, schema.EPOCH_INDEX})


@dataclass(frozen=True)
class Cutoff:
    """A value drawn on a signal's histogram: a rule's bound (`kind` "min" or "max") or a bucket's
    lower score bound (`kind` "bucket", `label` the bucket's name)."""

    value: float
    kind: str
    label: str

    def describe(self) -> str:
        shown = f"{int(self.value):,}" if float(self.value).is_integer() else f"{self.value:.4g}"
        return f"{self.label} ≥ {shown}" if self.kind == "bucket" else f"{self.kind} {shown}"


@dataclass
class SignalSpec:
    """What the report knows of one signal column: its cut-offs and the reject reasons of the
    rules on it (rows rejected for one of them are drawn apart in its histogram)."""

    column: str
    cutoffs: list[Cutoff] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)


@dataclass
class Signals:
    """The run's signal columns and their cut-offs."""

    produced: set[str] | None  # columns the stages produce; None without a manifest
    specs: dict[str, SignalSpec] = field(default_factory=dict)

    def is_signal(self, name: str, typ: pa.DataType) -> bool:
        numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
        return numeric and name not in BOOKKEEPING and (self.produced is None or name in self.produced)

    def spec(self, column: str) -> SignalSpec:
        return self.specs.setdefault(column, SignalSpec(column))

    def rule_column(self, reason: str) -> str | None:
        """The signal column whose rule gives reject reason `reason`, if one does."""
        return next((c for c, s in self.specs.items() if reason in s.reasons), None)


def find_signals(node_specs: list[dict[str, Any]] | None, bucket_files: list[dict[str, Any]]) -> Signals:
    """The signals of a run from its manifest's node specs and the buckets.json files it wrote."""
    signals = Signals(None)
    if node_specs is not None:
        signals.produced = set()
        for spec in node_specs:
            stage = _build(spec)
            if stage is None:
                continue
            signals.produced.update(stage.produced_columns() or ())
            for rule_set in _rule_sets(stage):
                _add_rules(signals, rule_set)
    for buckets in bucket_files:
        _add_bucket_cuts(signals, buckets)
    return signals


def _build(spec: dict[str, Any]) -> Any:
    """The node's stage built from its resolved parameters; None if this install cannot (a
    plugin's stage that is not installed here): its columns are then not known as signals."""
    try:
        return get_stage_class(str(spec["stage"]))(**dict(spec.get("params") or {}))
    except (CurateError, KeyError, TypeError):
        return None


def _rule_sets(stage: Any) -> Iterator[Any]:
    children = getattr(stage, "children", None)
    if children:
        for child in children:
            yield from _rule_sets(child)
    elif getattr(stage, "rules", None):
        yield stage


def _add_rules(signals: Signals, rule_set: Any) -> None:
    config = rule_set.config
    for rule in rule_set.rules:
        spec = signals.spec(schema.signal_column(rule_set.name, rule.signal))
        spec.reasons.add(f"{rule_set.name}:{rule.name}")
        for kind, param in (("min", rule.min_param), ("max", rule.max_param)):
            value = config.get(param) if param else None
            if value is not None and Cutoff(float(value), kind, kind) not in spec.cutoffs:
                spec.cutoffs.append(Cutoff(float(value), kind, kind))


def _add_bucket_cuts(signals: Signals, buckets: dict[str, Any]) -> None:
    column = buckets.get("score_column")
    names = [b.get("name", "") for b in buckets.get("buckets") or []]
    cuts = buckets.get("cuts") or []
    if not column:
        return
    spec = signals.spec(str(column))
    for i, cut in enumerate(cuts):
        if cut is not None:
            spec.cutoffs.append(Cutoff(float(cut), "bucket", str(names[i]) if i < len(names) else f"bucket {i}"))
