"""select: keep / drop columns by name or glob, in a real run; the column check knows what it removes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.spec import build_graph
from tests.conftest import data_dir, read_output, rejected_dir, write_parquet

ROWS = {"id": ["a", "b", "c"], "text": ["one two three", "x", "four five six"], "url": ["u1", "u2", "u3"],
        "quality_score": [0.1, 0.2, 0.3], "quality_bucket": ["lo", "lo", "hi"], "lang": ["en", "de", "en"]}


@pytest.fixture()
def inp(tmp_path: Path) -> Path:
    write_parquet(tmp_path / "in" / "a.parquet", ROWS)
    return tmp_path / "in"


def _run(inp: Path, out: Path, *stages: tuple[str, dict], workers: int = 1, **kw: object) -> list[str]:
    Pipeline.from_stages(list(stages)).run(inp, out, workers=workers, **kw)
    return pq.read_schema(data_dir(out) / "part-00000.parquet").names


def test_keep_by_name_and_glob_keeps_id_and_text(inp: Path, tmp_path: Path) -> None:
    cols = _run(inp, tmp_path / "o", ("token_count", {}), ("select", {"keep": ["quality_*", "n_tokens"]}), workers=2)
    assert cols == ["id", "text", "quality_score", "quality_bucket", "n_tokens"]
    out = read_output(tmp_path / "o")
    assert out.column("id").to_pylist() == ROWS["id"] and out.column("quality_score").to_pylist() == [0.1, 0.2, 0.3]


def test_drop_by_glob_never_drops_id_or_text_but_by_name_does(inp: Path, tmp_path: Path) -> None:
    assert _run(inp, tmp_path / "o1", ("select", {"drop": ["*"]})) == ["id", "text"]
    assert _run(inp, tmp_path / "o2", ("select", {"drop": ["id", "q*"]})) == ["text", "url", "lang"]
    assert _run(inp, tmp_path / "o3", ("select", {"keep": ["url", "lang"], "drop": ["l*"]})) == ["id", "text", "url"]


def test_rejected_rows_keep_their_reason_and_columns_before_select(inp: Path, tmp_path: Path) -> None:
    _run(inp, tmp_path / "o", ("length_filter", {"min_chars": 2}), ("select", {"keep": []}), keep_rejected=True)
    assert read_output(tmp_path / "o").column("id").to_pylist() == ["a", "c"]
    rejected = pq.read_table(next(rejected_dir(tmp_path / "o").rglob("part-*.parquet")))
    assert rejected.column("id").to_pylist() == ["b"]
    assert rejected.column("reject_reason").to_pylist() == ["length_filter:too_short"]


def test_a_later_stage_needing_a_dropped_column_is_a_config_error(inp: Path, tmp_path: Path) -> None:
    specs = [{"stage": "select", "name": "slim", "params": {"drop": ["quality_score"]}},
             {"stage": "prune", "params": {"fraction": 0.5}}]
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'quality_score'.*stage 'slim' removes it"):
        build_graph(specs, input_columns=["quality_score"])
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'quality_score'.*stage 'select' removes it"):
        Pipeline.from_stages([("select", {"keep": ["url"]}), ("prune", {"fraction": 0.5})]).run(inp, tmp_path / "o",
                                                                                                workers=1)
    assert not (tmp_path / "o").exists()  # refused before any work
    # a stage that makes the column again after select is fine
    build_graph([{"stage": "select", "params": {"drop": ["n_tokens"]}}, {"stage": "token_count"},
                      {"stage": "sample", "params": {"plan": "plan.json"}}], input_columns=["n_tokens", "quality_score",
                                                                                        "quality_bucket"])


def test_keeping_a_missing_column_by_name_is_a_config_error(inp: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stage 'select' needs column 'langauge'"):
        _run(inp, tmp_path / "o", ("select", {"keep": ["langauge"]}))
    assert _run(inp, tmp_path / "o2", ("select", {"keep": ["nothing_*"]})) == ["id", "text"]


@pytest.mark.parametrize(("params", "message"), [({}, "give 'keep', 'drop' or both"),
                                                 ({"keep": ["a", 3]}, "'keep' must be a list of column names"),
                                                 ({"drop": "url"}, "parameter 'drop' expects list")])
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pipeline.from_stages([("select", params)])
