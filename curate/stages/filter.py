"""filter: turn the heuristic rule sets' ``<set>_reject`` columns into one ``reject_reason``.

A document is rejected with reason ``<set>:<rule>`` (e.g. ``gopher_quality:word_count``) for
the first set, in the configured order, whose ``<set>_reject`` column is non-empty. Rejected
rows go to the runner, which drops them or writes them under ``_curate/rejected/``. The signal
columns stay, so other thresholds can be applied later without measuring again.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, reject_rows

_SUFFIX = schema.reject_column("")  # every rule set's reject column ends with this


@register
class Filter(MapStage):
    name = "filter"
    params = {
        "sets": Param(list, None, "rule sets to apply, first match wins (default: every <set>_reject "
                                  "column present, in column order)", nullable=True),
        "ignore": Param(list, [], "rules to ignore: a set name ('c4') or one rule ('c4:curly_bracket')"),
    }

    def validate(self) -> None:
        for item in self.ignore:
            if not isinstance(item, str) or not item or item.count(":") > 1:
                raise ConfigError(f"stage 'filter': 'ignore' entries are 'set' or 'set:rule', got {item!r}")
        if self.sets is not None:
            bad = [s for s in self.sets if not isinstance(s, str) or not s]
            if bad:
                raise ConfigError(f"stage 'filter': 'sets' must be rule-set names, got {bad!r}")

    produces = ()

    def required_columns(self) -> tuple[str, ...]:
        return (schema.ID, schema.TEXT, *(schema.reject_column(s) for s in self.sets or ()))

    def rule_sets(self, table: pa.Table) -> list[str]:
        """The rule sets to apply to `table`, in priority order."""
        if self.sets is not None:
            schema.require_columns(table.schema, [schema.reject_column(s) for s in self.sets], "stage 'filter'")
            return list(self.sets)
        return [c[: -len(_SUFFIX)] for c in table.column_names if c.endswith(_SUFFIX) and len(c) > len(_SUFFIX)]

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        reason = pa.nulls(table.num_rows, pa.string())
        for rule_set in self.rule_sets(table):
            if rule_set in self.ignore:
                continue
            rules = pc.cast(table.column(schema.reject_column(rule_set)), pa.string())
            failed = pc.and_(pc.is_valid(rules), pc.not_equal(rules, ""))
            ignored = [i.split(":", 1)[1] for i in self.ignore if i.startswith(rule_set + ":")]
            if ignored:
                failed = pc.and_(failed, pc.invert(pc.is_in(rules, value_set=pa.array(ignored, pa.string()))))
            named = pc.binary_join_element_wise(pa.scalar(rule_set), rules, ":")
            reason = pc.coalesce(reason, pc.if_else(failed, named, pa.scalar(None, pa.string())))
        return reject_rows(table, pc.is_valid(reason), reason)
