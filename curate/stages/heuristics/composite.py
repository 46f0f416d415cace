"""heuristics: run several rule sets in one pass, sharing lines and word tokens.

Equivalent to listing the rule-set stages one after another (same columns, same values), but
the batch is split into lines and tokenized once instead of once per set.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class, register
from curate.pipeline.stage import MapStage, Param, TaskContext, warm_up_context
from curate.stages.heuristics.base import HeuristicStage
from curate.stages.heuristics.text import TextBatch

RULE_SETS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


@register
class Heuristics(MapStage):
    name = "heuristics"
    params = {
        "sets": Param(list, list(RULE_SETS), "rule sets to run, in this order"),
        **{s: Param(dict, {}, f"parameters of the {s} rule set") for s in RULE_SETS},
    }

    def validate(self) -> None:
        unknown = [s for s in self.sets if s not in RULE_SETS]
        if unknown:
            raise ConfigError(f"stage 'heuristics': unknown rule set(s) {', '.join(map(str, unknown))} "
                              f"(known: {', '.join(RULE_SETS)})")
        if len(set(self.sets)) != len(self.sets):
            raise ConfigError("stage 'heuristics': a rule set is listed twice in 'sets'")
        unused = [s for s in RULE_SETS if self.config[s] and s not in self.sets]
        if unused:
            raise ConfigError(f"stage 'heuristics': parameters given for {', '.join(unused)}, "
                              f"which is not in 'sets'")
        self.children: list[HeuristicStage] = [self._child(s, self.config[s]) for s in self.sets]

    @staticmethod
    def _child(name: str, params: dict[str, Any]) -> HeuristicStage:
        cls = get_stage_class(name)
        return cls(**params)  # type: ignore[return-value]

    def produced_columns(self) -> tuple[str, ...]:
        return tuple(c for child in self.children for c in child.produced_columns())

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        batch = TextBatch(table.column(schema.TEXT))
        for child in self.children:
            table = child.annotate(table, batch, ctx)
        return table

    def kernels(self) -> list[Any]:
        """Its rule sets' kernels (the same for every set), so the run compiles them before its
        workers start, as for the rule-set stages."""
        return list(dict.fromkeys(k for child in self.children for k in child.kernels()))

    def warm_up(self, sample: pa.Table) -> None:
        self.process(sample, warm_up_context())

    def describe(self) -> dict[str, Any]:
        return {"stage": self.name, "params": {"sets": list(self.sets),
                                               **{c.name: dict(c.config) for c in self.children}}}
