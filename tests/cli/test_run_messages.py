"""A run that says when it throws most of the corpus away (issue 30 item 3), and `curate stats`
showing each sink's documents on its own (issue 30 item 4)."""

from __future__ import annotations

import json
from pathlib import Path

from curate.api import Pipeline
from curate.pipeline.results import heavy_removals
from curate.pipeline.stats import StageStats
from tests.conftest import read_stats, write_parquet
from tests.in_process import curate

LONG = "a long enough document with plenty of words in it, " * 4


def _corpus(tmp_path: Path) -> Path:
    """Two files: 7 of 10 documents too short, the first short one in the second file is s1-0."""
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["l0", "l1", "l2", "s0-0"], "text": [LONG, LONG, LONG, "tiny"]})
    write_parquet(src / "b.parquet", {"id": [f"s1-{i}" for i in range(6)], "text": ["short"] * 6})
    return src


PIPE = """
name: strict
stages:
  - stage: normalize
  - stage: length_filter
    params: {min_chars: 100}
"""


def test_a_stage_removing_most_of_its_input_is_flagged_in_stats_summary_and_stats_verb(tmp_path: Path) -> None:
    src = _corpus(tmp_path)
    pipe = tmp_path / "strict.yaml"
    pipe.write_text(PIPE)
    out = tmp_path / "out"
    r = curate("run", str(pipe), "--input", str(src), "--output", str(out), "--workers", "1")
    assert r.returncode == 0, r.stderr
    stats = read_stats(out)
    assert stats["heavy_removals"] == [{
        "stage": "length_filter", "docs_in": 10, "removed": 7, "share": 0.7,
        "top_reason": "length_filter:too_short", "top_reason_removed": 7, "top_reason_share": 0.7,
        "example_id": "s0-0"}]  # the first rejected row of the first task
    by_stage = {s["stage"]: s for s in stats["stages"]}
    assert by_stage["length_filter"]["examples"] == {"length_filter:too_short": "s0-0"}
    warning = ("warning: stage 'length_filter' removed 70.0% of the documents that reached it (7 of 10); top "
               "reason length_filter:too_short: 7 (70.0%), e.g. id s0-0")
    assert warning in r.stderr.splitlines()
    shown = curate("stats", str(out))
    assert shown.returncode == 0 and warning in shown.stdout.splitlines()
    quiet = curate("run", str(pipe), "--input", str(src), "--output", str(tmp_path / "q"), "--quiet", "--json")
    assert "warning" not in quiet.stderr and json.loads(quiet.stdout)["heavy_removals"][0]["example_id"] == "s0-0"


def test_nothing_is_flagged_when_every_stage_keeps_half(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a", "b", "c", "d"], "text": [LONG, LONG, "x", "y"]})
    result = Pipeline.from_stages([("length_filter", {"min_chars": 100})]).run(src, tmp_path / "out")
    assert result.stats["heavy_removals"] == []  # exactly half is not more than half


def test_the_top_reason_and_its_share_and_the_first_example_win() -> None:
    st = StageStats(stage="filter", docs_in=100, docs_out=40)
    st.add_rejected("c4:sentences", 25, "doc-9")
    st.add_rejected("gopher_quality:alpha_words_ratio", 35, "doc-3")
    st.add_rejected("gopher_quality:alpha_words_ratio", 10, "doc-1")  # a later task's: the first example stays
    read = StageStats(stage="read", docs_in=100, docs_out=100)
    [flag] = heavy_removals([read, st])
    assert flag == {"stage": "filter", "docs_in": 100, "removed": 70, "share": 0.7,
                    "top_reason": "gopher_quality:alpha_words_ratio", "top_reason_removed": 45,
                    "top_reason_share": 0.45, "example_id": "doc-3"}


TWO_SINKS = """
name: two_sinks
stages:
  - stage: length_filter
    params: {min_chars: 100}
  - stage: token_count
    name: short_tokens
    input: length_filter.rejected
outputs:
  long: length_filter
  short: short_tokens
"""


def test_stats_header_shows_each_sink_on_its_own(tmp_path: Path) -> None:
    src = _corpus(tmp_path)
    pipe = tmp_path / "two.yaml"
    pipe.write_text(TWO_SINKS)
    out = tmp_path / "out"
    r = curate("run", str(pipe), "--input", str(src), "--output", str(out), "--workers", "1")
    assert r.returncode == 0, r.stderr
    shown = curate("stats", str(out)).stdout
    assert shown.splitlines()[0].startswith("pipeline two_sinks: 10 docs in, out: long 3, short 7, 0 errors")
    # length_filter rejected 7 of 10, but a sink takes them: nothing was thrown away
    assert read_stats(out)["heavy_removals"] == [] and "warning" not in shown
