"""Pipeline graphs: YAML and builder, validation before any work, fusing, rejected branch."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.spec import load_graph
from curate.store.storage import Storage
from tests.conftest import read_output, rejected_dir, write_parquet


def _yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    return path


def test_unknown_stage_names_it_and_the_line(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "stages:\n  - stage: normalize\n  - stage: nosuchstage\n")
    with pytest.raises(ConfigError, match=r"line 3.*unknown stage 'nosuchstage'"):
        load_graph(path, Storage())


def test_unknown_parameter(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "stages:\n  - stage: length_filter\n    params: {min_charz: 3}\n")
    with pytest.raises(ConfigError, match=r"line 2.*length_filter.*unknown parameter\(s\) min_charz"):
        load_graph(path, Storage())


def test_mistyped_and_out_of_range_parameters(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"min_chars' expects int, got str"):
        load_graph(_yaml(tmp_path, "stages:\n  - stage: length_filter\n    params: {min_chars: many}\n"), Storage())
    with pytest.raises(ConfigError, match=r"min_chars' must be >= 0"):
        load_graph(_yaml(tmp_path, "stages:\n  - stage: length_filter\n    params: {min_chars: -1}\n"), Storage())
    with pytest.raises(ConfigError, match=r"form' must be one of"):
        load_graph(_yaml(tmp_path, "stages:\n  - stage: normalize\n    params: {form: NFX}\n"), Storage())


def test_cycle_and_missing_input_are_rejected(tmp_path: Path) -> None:
    cyc = "stages:\n  - {stage: normalize, name: a, input: b}\n  - {stage: passthrough, name: b, input: a}\n"
    with pytest.raises(ConfigError, match="cycle"):
        load_graph(_yaml(tmp_path, cyc), Storage())
    missing = "stages:\n  - {stage: normalize, name: a}\n  - {stage: passthrough, name: b, input: nope}\n"
    with pytest.raises(ConfigError, match="reads input 'nope'"):
        load_graph(_yaml(tmp_path, missing), Storage())


def test_missing_tokenizer_file_fails_before_work(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a"], "text": ["x"]})
    p = Pipeline.from_stages([("token_count", {"method": "tokenizer", "tokenizer": str(tmp_path / "none.json")})])
    with pytest.raises(ConfigError, match="tokenizer file not found"):
        p.run(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing started


def test_yaml_and_builder_give_the_same_graph(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "name: x\nstages:\n  - stage: normalize\n  - stage: length_filter\n"
                           "    params: {min_chars: 10}\n  - stage: exact_dedup\n")
    built = Pipeline("x").add("normalize").add("length_filter", min_chars=10).add("exact_dedup")
    assert load_graph(path, Storage()).describe() == built.graph.describe()


def test_map_stages_are_fused_into_one_unit_per_global_stage() -> None:
    from curate.pipeline.id_check import ID_NODE
    from curate.pipeline.passes import APPLY, IDS, READ, schedule

    p = Pipeline.from_stages(["normalize", ("length_filter", {"min_chars": 5}), "token_count", "exact_dedup",
                              "passthrough"])
    sched = schedule(p.graph)
    assert sched.passes == 3  # the built-in id check's pass first, then the pipeline's two
    ids, read, apply = sched.units
    assert ids.entry.kind == IDS and ids.chain == [] and ids.level == 0
    assert read.entry.kind == READ and read.chain == ["normalize", "length_filter", "token_count"]
    assert sched.summarize_unit == {ID_NODE: ID_NODE, "exact_dedup": "read"}
    assert apply.entry.kind == APPLY and apply.entry.node == "exact_dedup" and apply.chain == ["passthrough"]
    assert apply.level == 2


def test_rejected_branch_is_written_with_reasons(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a", "b", "c", "d"], "text": ["short", "a long enough text here",
                                                                           "", "tiny"]})
    out = tmp_path / "out"
    result = Pipeline.from_stages([("length_filter", {"min_chars": 10}), "passthrough"]).run(
        src, out, keep_rejected=True, workers=1)
    assert read_output(out).column("id").to_pylist() == ["b"]
    rej = pq.read_table(rejected_dir(out, "length_filter") / "part-00000.parquet")
    assert rej.column("id").to_pylist() == ["a", "d"]
    assert set(rej.column("reject_reason").to_pylist()) == {"length_filter:too_short"}
    assert set(rej.column("reject_stage").to_pylist()) == {"length_filter"}
    empty = pq.read_table(rejected_dir(out, "read") / "part-00000.parquet")
    assert empty.column("id").to_pylist() == ["c"] and empty.column("reject_reason").to_pylist() == ["empty_text"]
    by_stage = {s["stage"]: s for s in result.stages}
    assert by_stage["length_filter"]["rejected"] == {"length_filter:too_short": 2}


def test_custom_stage_by_import_path(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a", "b"], "text": ["abc", "abcdefgh"]})
    out = tmp_path / "out"
    Pipeline.from_stages([("tests.stages_for_tests:TagLength", {"min_chars": 5})]).run(src, out, workers=1)
    t = read_output(out)
    assert t.column("id").to_pylist() == ["b"] and t.column("text_chars").to_pylist() == [8]


def test_missing_model_file_names_the_yaml_line(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a"], "text": ["x"]})
    path = _yaml(tmp_path, "stages:\n  - stage: normalize\n  - stage: classify\n"
                           "    params: {model: /nonexistent/quality.bin, column: quality}\n")
    with pytest.raises(ConfigError, match=r"p.yaml, line 3, stage #2: stage 'classify'.*quality.bin"):
        Pipeline.from_yaml(path).run(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
