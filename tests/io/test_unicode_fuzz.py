"""Random Unicode through the text stages: no exception, rows neither lost nor invented.

Covers surrogates escaped in JSON (they reach stages only as reader errors, never as text),
zero-width and control characters, right-to-left text, combining marks, CJK and emoji.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.pipeline.registry import get_stage_class, stage_names
from curate.pipeline.stage import TaskContext

SPICE = ["\u200b", "\u200d", "\u200c", "\ufeff", "\u202e", "\u2066", "\x00", "\x07", "\x1b", "\r\n", "\t",
         "\u0301", "שלום עולם", "مرحبا بالعالم", "你好世界", "こんにちは", "🙂‍↔️", "\u00a0", "...", "•", "#", "\n\n\n"]
texts = st.lists(
    st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
              st.lists(st.sampled_from(SPICE) | st.text(max_size=5, alphabet=st.characters(
                  blacklist_categories=("Cs",))), max_size=60).map("".join)),
    min_size=1, max_size=12)

MAP_STAGES = [s for s in ("normalize", "gopher_quality", "gopher_repetition", "c4", "fineweb", "heuristics",
                          "token_count", "length_filter") if s in stage_names()]


def _ctx(tmp: Path) -> TaskContext:
    return TaskContext(task_index=0, n_tasks=1, source="fuzz", seed=0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=texts)
def test_map_stages_survive_random_unicode(tmp_path: Path, batch: list[str]) -> None:
    table = pa.table({"id": [f"d{i}" for i in range(len(batch))], "text": batch})
    for name in MAP_STAGES:
        out = get_stage_class(name)().process(table, _ctx(tmp_path))
        assert out.num_rows == table.num_rows, name
        assert out.column("id").to_pylist() == table.column("id").to_pylist(), name
        if name == "normalize":
            table = out  # later stages see normalized text, as in a pipeline
            for t in out.column("text").to_pylist():
                assert "\x00" not in t and "\u200b" not in t and "\r" not in t


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=texts)
def test_minhash_signatures_survive_random_unicode(tmp_path: Path, batch: list[str]) -> None:
    if "minhash_dedup" not in stage_names():
        return
    stage = get_stage_class("minhash_dedup")()
    table = pa.table({"id": [f"d{i}" for i in range(len(batch))], "text": batch})
    partial = stage.summarize(table, _ctx(tmp_path))
    assert partial is None or partial.num_rows <= table.num_rows


def test_surrogates_escaped_in_json_are_reported_not_crashing(tmp_path: Path) -> None:
    from curate.api import Pipeline

    src = tmp_path / "in"
    src.mkdir()
    lines = [json.dumps({"id": "a", "text": "fine \u202e reversed"}), '{"id": "b", "text": "half \\udc00 pair"}',
             '{"id": "c", "text": "pair \\ud83d\\ude42 ok"}']
    (src / "a.jsonl").write_text("\n".join(lines) + "\n")
    stages = ["normalize"] + [s for s in ("heuristics", "minhash_dedup") if s in stage_names()]
    result = Pipeline.from_stages(stages).run(src, tmp_path / "out", workers=1, on_error="skip")
    assert [(e["row"], e["reason"]) for e in result.errors] == [(1, "invalid_utf8")]
    assert result.stages[0]["docs_in"] == 3
