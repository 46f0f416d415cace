"""Declared columns: every built-in stage adds exactly the columns it declares, and a pipeline
whose stage needs a column nothing provides is refused before any work, naming both stages."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.registry import stage_classes
from curate.pipeline.spec import build_graph
from curate.pipeline.stage import MapStage
from curate.pipeline.validate import check_columns
from tests.conftest import SAMPLE, data_dir

# stage -> (stages run before it, its parameters); MODELS is the directory of trained models
CASES: dict[str, tuple[list[tuple[str, dict]], dict]] = {
    "normalize": ([], {}),
    "passthrough": ([], {}),
    "length_filter": ([], {"min_chars": 10}),
    "token_count": ([], {}),
    "heuristics": ([], {}),
    "gopher_quality": ([], {}),
    "gopher_repetition": ([], {}),
    "c4": ([], {}),
    "fineweb": ([], {}),
    "filter": ([("c4", {})], {"sets": ["c4"]}),
    "classify": ([], {"model": "MODELS/quality.bin", "column": "q", "label": "hq"}),
    "language_id": ([], {"model": "MODELS/lid.bin"}),
    "exact_dedup": ([], {}),
    "minhash_dedup": ([], {}),
    "quality_buckets": ([("token_count", {})], {"names": ["high", "low"], "quantiles": [0.5]}),
    "prune": ([], {"fraction": 0.5}),
    "route": ([], {"routes": {"long": "length(text) > 5"}, "default": "short"}),
    "c4_clean": ([], {}),
    "decontaminate": ([], {"benchmarks": {"quiz": "BENCH"}}),
    "line_dedup": ([], {}),
    "pii": ([], {}),
    "url_filter": ([], {"banned_words": "BANNED"}),
    "select": ([], {"keep": ["url"]}),
    "sample": ([("token_count", {}), ("quality_buckets", {"names": ["high", "low"], "quantiles": [0.5]})], {"compute": 1.0e11}),
}


@pytest.fixture(scope="module")
def minimal_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 sample documents with only id, text, url and a quality_score."""
    src = sorted(SAMPLE.glob("*.parquet"))[0]
    table = pq.read_table(src, columns=[schema.ID, schema.TEXT, schema.URL]).slice(0, 80)
    scores = pa.array([(i * 37 % 100) / 100 for i in range(table.num_rows)], pa.float64())
    path = tmp_path_factory.mktemp("minimal") / "in" / "part.parquet"
    path.parent.mkdir()
    pq.write_table(table.append_column(schema.QUALITY_SCORE, scores), path)
    return path.parent


def _placed(value, places: dict[str, str]):  # noqa: ANN001, ANN202
    """`value` with the MODELS / BENCH placeholders of CASES replaced, at any depth."""
    if isinstance(value, dict):
        return {k: _placed(v, places) for k, v in value.items()}
    if isinstance(value, str):
        for key, path in places.items():
            value = value.replace(key, path)
    return value


def _columns(specs: list[tuple[str, dict]], inp: Path, out: Path) -> set[str]:
    p = Pipeline.from_stages(specs or [("passthrough", {})])
    last, shards = p.graph.nodes[-1], data_dir(out)
    if last.stage.output_names():  # a route: read the columns of its first output
        p.output("first", f"{last.name}.{last.stage.output_names()[0]}")
        shards = out / "first"
    p.run(inp, out, workers=1)
    return set(pq.read_schema(shards / "part-00000.parquet").names)


def test_every_built_in_stage_has_a_case() -> None:
    assert sorted(c.name for c in stage_classes()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_stage_adds_exactly_the_columns_it_declares(name: str, minimal_input: Path, default_pipeline: Path,
                                                   tmp_path: Path) -> None:
    before, params = CASES[name]
    bench = minimal_input.parent / "quiz.jsonl"  # a benchmark made of one input document
    bench.write_text(json.dumps({"text": pq.read_table(minimal_input / "part.parquet").column("text")[0].as_py()}))
    banned = minimal_input.parent / "banned.txt"
    banned.write_text("casino\n")
    params = _placed(params, {"MODELS": str(default_pipeline.parent), "BENCH": str(bench), "BANNED": str(banned)})
    stage = Pipeline.from_stages([*before, (name, params)]).graph.nodes[-1].stage
    declared = stage.produced_columns()
    assert declared is not None, f"{name} declares no columns"
    cols_before = _columns(before, minimal_input, tmp_path / "before")
    cols_after = _columns([*before, (name, params)], minimal_input, tmp_path / "after")
    assert cols_after - cols_before == set(declared)
    assert set(stage.required_columns()) <= cols_before


def test_missing_column_is_refused_naming_both_stages() -> None:
    with pytest.raises(ConfigError, match="stage 'sample' needs column 'n_tokens'.*stage 'tokens' makes it but runs "
                                          "after 'sample'"):
        build_graph([{"stage": "sample", "params": {"plan": "plan.json"}},
                          {"stage": "token_count", "name": "tokens"}],
                         input_columns=[schema.QUALITY_SCORE, schema.QUALITY_BUCKET])


def test_declared_input_columns_are_checked_when_the_pipeline_is_built() -> None:
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'quality_score'.*made by stage 'classify'"):
        Pipeline("p", input_columns=["url"]).add("prune", fraction=0.5)
    Pipeline("p", input_columns=["quality_score"]).add("prune", fraction=0.5)  # declared: accepted


def test_at_run_start_the_input_schema_counts(minimal_input: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'quality_bucket'"):
        Pipeline("p").add("prune", fraction=0.5, group_by="quality_bucket").run(minimal_input, tmp_path / "o",
                                                                                 workers=1)
    assert not (tmp_path / "o").exists()  # refused before any work


class _Undeclared(MapStage):
    name = "undeclared_for_test"

    def process(self, table: pa.Table, ctx) -> pa.Table:  # noqa: ANN001
        return table


def test_a_custom_stage_that_declares_nothing_is_accepted() -> None:
    # it may make any column, so what comes after it is not checked (as before columns were declared)
    graph = Pipeline("p").add("passthrough").add(f"{__name__}:_Undeclared").add("prune", fraction=0.5).graph
    check_columns(graph, {schema.ID, schema.TEXT})
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'quality_score'"):
        check_columns(Pipeline("p").add("prune", fraction=0.5).add(f"{__name__}:_Undeclared").graph,
                      {schema.ID, schema.TEXT})
