"""filter: composing one reject_reason from the rule sets' <set>_reject columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class
from curate.pipeline.stage import reject_rows
from curate.schema import SchemaError
from tests.heuristics_util import ctx


def table(**reject_columns: list) -> pa.Table:
    n = len(next(iter(reject_columns.values())))
    cols = {schema.ID: [str(i) for i in range(n)], schema.TEXT: ["t"] * n}
    cols.update({schema.reject_column(k): pa.array(v, pa.string()) for k, v in reject_columns.items()})
    return pa.table(cols)


def reasons(t: pa.Table, **params) -> list:
    return get_stage_class("filter")(**params).process(t, ctx()).column(schema.REJECT_REASON).to_pylist()


T = table(gopher_quality=["", "word_count", "", None, "stop_words"],
          c4=["", "sentences", "curly_bracket", "", ""],
          fineweb=["", "", "", "list_ratio", None])


def test_first_failing_set_in_column_order_names_the_reason():
    assert reasons(T) == [None, "gopher_quality:word_count", "c4:curly_bracket", "fineweb:list_ratio",
                          "gopher_quality:stop_words"]


def test_configured_order_decides_which_set_is_reported():
    assert reasons(T, sets=["c4", "gopher_quality"]) == [None, "c4:sentences", "c4:curly_bracket", None,
                                                          "gopher_quality:stop_words"]


def test_ignore_a_whole_set_or_one_rule():
    assert reasons(T, ignore=["gopher_quality"]) == [None, "c4:sentences", "c4:curly_bracket", "fineweb:list_ratio",
                                                     None]
    assert reasons(T, ignore=["c4:curly_bracket", "gopher_quality:word_count"]) == [
        None, "c4:sentences", None, "fineweb:list_ratio", "gopher_quality:stop_words"]


def test_earlier_reject_reason_is_kept():
    t = reject_rows(T, [False, True, False, False, False], "exact_duplicate")
    assert reasons(t)[:2] == [None, "exact_duplicate"]


def test_no_reject_columns_rejects_nothing():
    t = pa.table({schema.ID: ["a"], schema.TEXT: ["t"]})
    assert reasons(t) == [None]


def test_configured_set_without_its_column_is_a_clear_error():
    with pytest.raises(SchemaError, match=schema.reject_column("fineweb")):
        reasons(table(c4=[""]), sets=["fineweb"])


def test_bad_ignore_entries_are_config_errors():
    with pytest.raises(ConfigError, match="ignore"):
        get_stage_class("filter")(ignore=["a:b:c"])
