"""Pipelines as graphs: route, union, fan-out, `.rejected` inputs, global stages on a branch,
named sinks, validation before any work, accounting, and the same result on every executor."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.spec import load_graph
from curate.pipeline.validate import unread_outputs
from curate.store import layout
from curate.store.storage import Storage
from tests.conftest import (
    data_dir,
    read_output,
    rejected_dir,
    shard_ids,
    write_parquet,
)
from tests.in_process import curate

KINDS = ("code", "prose", "other")


def _corpus(root: Path, n: int = 90, files: int = 3, seed: int = 0) -> Path:
    """`files` Parquet shards of `n` documents with a kind, a number and some exact copies."""
    import random

    rng = random.Random(seed)
    ids, texts, kinds, nums = [], [], [], []
    for i in range(n):
        kind = KINDS[rng.randrange(3)]
        words = rng.randrange(1, 40)
        text = f"shared copy {i % 3} " + "x " * (i % 3) if i % 5 == 0 else f"{kind} document {i} " + "w " * words
        ids.append(f"d{i:04d}")
        texts.append(text)
        kinds.append(kind)
        nums.append(rng.randrange(100))
    per = -(-n // files)
    for f in range(files):
        sl = slice(f * per, (f + 1) * per)
        write_parquet(root / f"shard-{f}.parquet", {"id": ids[sl], "text": texts[sl], "kind": kinds[sl],
                                                   "num": nums[sl]})
    return root


def _yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    return path


def _all_ids(out: Path, sink: str = layout.DEFAULT_SINK) -> list[str]:
    return [i for shard in shard_ids(out, sink) for i in shard]


def _input_ids(root: Path) -> list[str]:
    return [i for f in sorted(root.glob("*.parquet")) for i in pq.read_table(f).column("id").to_pylist()]


ROUTED = """
name: routed
stages:
  - stage: route
    params: {routes: {code: "kind = 'code'", big: "num >= 50"}, default: rest}
  - stage: length_filter
    name: code_len
    input: route.code
    params: {min_words: 10}
  - stage: passthrough
    name: big
    input: route.big
  - stage: exact_dedup
    name: rest_dedup
    input: route.rest
  - stage: passthrough
    name: merged
    input: [rest_dedup, big, code_len, code_len.rejected]
outputs:
  all: merged
  code: code_len
  short_code: code_len.rejected
  rest: rest_dedup
"""


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("routed")
    src = _corpus(base / "in")
    out = base / "out"
    result = Pipeline.from_yaml(_yaml(base, ROUTED)).run(src, out, workers=2, keep_rejected=True)
    return src, out, result.stats


def test_route_then_union_is_the_input_in_input_order_minus_the_dedup_branch(routed) -> None:
    src, out, stats = routed
    table = pa.concat_tables(pq.read_table(f) for f in sorted(src.glob("*.parquet")))
    rest = [r for r in table.to_pylist() if r["kind"] != "code" and r["num"] < 50]
    seen, dup_ids = set(), set()
    for r in rest:  # the first copy of a text in input order is kept
        if r["text"] in seen:
            dup_ids.add(r["id"])
        seen.add(r["text"])
    assert dup_ids  # the corpus has copies in that branch
    assert _all_ids(out, "all") == [i for i in _input_ids(src) if i not in dup_ids]
    # shard i of the union holds task i's rows of every branch
    per_task = [pq.read_table(f).column("id").to_pylist() for f in sorted(src.glob("*.parquet"))]
    assert shard_ids(out, "all") == [[i for i in ids if i not in dup_ids] for ids in per_task]


def test_route_sends_each_row_to_its_first_true_condition(routed) -> None:
    src, out, stats = routed
    rows = {r["id"]: r for f in sorted(src.glob("*.parquet")) for r in pq.read_table(f).to_pylist()}
    code = set(_all_ids(out, "code")) | set(_all_ids(out, "short_code"))
    assert code == {i for i, r in rows.items() if r["kind"] == "code"}
    by = {s["stage"]: s for s in stats["stages"]}
    assert by["route"]["outputs"] == {
        "code": sum(r["kind"] == "code" for r in rows.values()),
        "big": sum(r["kind"] != "code" and r["num"] >= 50 for r in rows.values()),
        "rest": sum(r["kind"] != "code" and r["num"] < 50 for r in rows.values())}
    assert by["route"]["docs_in"] == len(rows) == sum(by["route"]["outputs"].values())


def test_rejected_rows_arrive_kept_with_their_upstream_reason(routed) -> None:
    _, out, _ = routed
    short = read_output(out, "short_code")
    assert short.num_rows > 0 and set(short.column("reject_reason").to_pylist()) == {"length_filter:too_few_words"}
    merged = read_output(out, "all")
    reasons = dict(zip(merged.column("id").to_pylist(), merged.column("upstream_reject_reason").to_pylist()))
    assert {i for i, r in reasons.items() if r is not None} == set(short.column("id").to_pylist())
    assert "reject_reason" not in merged.column_names and "_curate_pos" not in merged.column_names
    assert not [c for c in merged.column_names if c.startswith("_curate_")]  # the route's own column included


def test_sinks_are_shard_folders_with_their_own_stats(routed) -> None:
    import datasets

    src, out, stats = routed
    n_tasks = stats["tasks"]
    for name in ("all", "code", "short_code", "rest"):
        assert sorted(p.name for p in (out / name).iterdir()) == [f"part-{i:05d}.parquet" for i in range(n_tasks)]
        assert stats["sinks"][name]["docs"] == pq.read_table(out / name).num_rows
        assert stats["sinks"][name]["shards"] == n_tasks
    loaded = datasets.load_dataset("parquet", data_dir=str(out / "all"), split="train")
    assert loaded["id"] == _all_ids(out, "all")
    assert not data_dir(out).exists()  # with outputs: named, no default sink
    assert sorted(p.name for p in out.iterdir()) == sorted(["_SUCCESS", layout.CURATE_DIR, *stats["sinks"]])
    assert stats["docs_out"] == sum(s["docs"] for s in stats["sinks"].values())


def test_accounting_of_a_union_is_the_sum_of_its_inputs(routed) -> None:
    _, _, stats = routed
    by = {s["stage"]: s for s in stats["stages"]}
    assert by["merged"]["docs_in"] == (by["rest_dedup"]["docs_out"] + by["big"]["docs_out"]
                                       + by["code_len"]["docs_out"] + by["code_len"]["rejected_total"])
    for s in stats["stages"]:
        assert s["docs_in"] == s["docs_out"] + s["rejected_total"] + s["errored"], s["stage"]


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), order=st.permutations(["route.a", "route.b", "route.c"]),
       files=st.integers(1, 3), cut=st.integers(0, 100))
def test_union_of_route_branches_is_the_input_in_input_order(tmp_path_factory, seed: int, order: list[str],
                                                             files: int, cut: int) -> None:
    base = tmp_path_factory.mktemp("prop")
    src = _corpus(base / "in", n=40, files=files, seed=seed)
    p = (Pipeline("prop", settings={"batch_rows": 7})
         .add("route", routes={"a": f"num < {cut}", "b": "kind = 'code'"}, default="c")
         .add("passthrough", name="u", input=list(order)))
    p.run(src, base / "out", workers=1)
    assert _all_ids(base / "out") == _input_ids(src)


def test_route_without_default_rejects_unmatched_rows(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in", n=30, files=1)
    out = tmp_path / "out"
    result = Pipeline("p").add("route", routes={"code": "kind = 'code'"}).add(
        "passthrough", input="route.code").run(src, out, workers=1, keep_rejected=True)
    rows = pq.read_table(src / "shard-0.parquet").to_pylist()
    assert _all_ids(out) == [r["id"] for r in rows if r["kind"] == "code"]
    rej = pq.read_table(rejected_dir(out, "route"))
    assert rej.column("id").to_pylist() == [r["id"] for r in rows if r["kind"] != "code"]
    assert set(rej.column("reject_reason").to_pylist()) == {"route:unmatched"}
    route = next(s for s in result.stages if s["stage"] == "route")
    assert route["rejected"] == {"route:unmatched": len(rej)}


def test_fan_out_feeds_every_reader_the_same_rows(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in")
    out = tmp_path / "out"
    (Pipeline("fan").add("length_filter", name="base", min_words=5)
     .add("token_count", name="counted", input="base")
     .add("exact_dedup", name="deduped", input="base")
     .add("passthrough", name="copy", input="base")
     .output("counted", "counted").output("deduped", "deduped").output("copy", "copy")
     .run(src, out, workers=2))
    assert shard_ids(out, "counted") == shard_ids(out, "copy")
    assert set(_all_ids(out, "deduped")) < set(_all_ids(out, "copy"))
    assert "n_tokens" in read_output(out, "counted").column_names


def test_a_global_stage_on_one_branch_leaves_the_other_alone(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in")
    out = tmp_path / "out"
    (Pipeline("branch").add("route", routes={"code": "kind = 'code'"}, default="prose")
     .add("exact_dedup", name="code_dedup", input="route.code")
     .add("passthrough", name="prose", input="route.prose")
     .add("passthrough", name="all", input=["code_dedup", "prose"])
     .run(src, out, workers=1))
    table = pa.concat_tables(pq.read_table(f) for f in sorted(src.glob("*.parquet"))).to_pylist()
    seen, dropped = set(), set()
    for r in table:
        if r["kind"] == "code":
            if r["text"] in seen:
                dropped.add(r["id"])
            seen.add(r["text"])
    assert dropped
    assert _all_ids(out) == [r["id"] for r in table if r["id"] not in dropped]


def test_a_global_stage_reading_a_union_dedups_the_merged_input(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in")
    out = tmp_path / "out"
    (Pipeline("u").add("route", routes={"code": "kind = 'code'"}, default="rest")
     .add("exact_dedup", name="dd", input=["route.rest", "route.code"])
     .run(src, out, workers=2))
    table = pa.concat_tables(pq.read_table(f) for f in sorted(src.glob("*.parquet"))).to_pylist()
    seen, kept = set(), []
    for r in table:  # the first copy in input order, whichever branch it took
        if r["text"] not in seen:
            kept.append(r["id"])
        seen.add(r["text"])
    assert len(kept) < len(table)
    assert _all_ids(out) == kept


def test_two_bucket_branches_each_feed_their_own_sampler(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": [f"d{i}" for i in range(60)],
                                      "text": [f"document number {i} " * (1 + i % 5) for i in range(60)],
                                      "kind": ["code" if i % 2 else "prose" for i in range(60)],
                                      "quality_score": [i / 60 for i in range(60)]})
    buckets = {"names": ["high", "low"], "quantiles": [0.5], "utility": {"high": 2.0, "low": 1.0}}
    out = tmp_path / "out"
    (Pipeline("two").add("token_count").add("route", routes={"code": "kind = 'code'"}, default="prose")
     .add("quality_buckets", name="code_buckets", input="route.code", **buckets)
     .add("sample", name="code_mix", compute=1e9)
     .add("quality_buckets", name="prose_buckets", input="route.prose", **buckets)
     .add("sample", name="prose_mix", compute=1e9)
     .output("code", "code_mix").output("prose", "prose_mix")
     .run(src, out, workers=1))
    code = json.loads((out / layout.META / "code_buckets" / "buckets.json").read_text())
    prose = json.loads((out / layout.META / "prose_buckets" / "buckets.json").read_text())
    assert sum(b["docs"] for b in code["buckets"]) == sum(b["docs"] for b in prose["buckets"]) == 30
    for mix, doc in (("code_mix", code), ("prose_mix", prose)):
        plan = json.loads((out / layout.META / mix / "plan.json").read_text())
        assert {b["name"]: b["unique_tokens"] for b in plan["buckets"]} == {
            b["name"]: b["unique_tokens"] for b in doc["buckets"]}
    assert set(read_output(out, "code").column("kind").to_pylist()) == {"code"}
    assert set(read_output(out, "prose").column("kind").to_pylist()) == {"prose"}


def test_one_and_two_workers_write_identical_sinks(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in", n=120, files=4)
    pipe = Pipeline.from_yaml(_yaml(tmp_path, ROUTED))
    pipe.run(src, tmp_path / "w1", workers=1)
    pipe.run(src, tmp_path / "w2", workers=2)
    for sink in ("all", "code", "short_code", "rest"):
        assert read_output(tmp_path / "w1", sink).equals(read_output(tmp_path / "w2", sink))
        assert shard_ids(tmp_path / "w1", sink) == shard_ids(tmp_path / "w2", sink)


@pytest.mark.ray
def test_a_branching_graph_on_ray_gives_the_local_result(local_ray, tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in", n=120, files=4)
    pipe = Pipeline.from_yaml(_yaml(tmp_path, ROUTED))
    pipe.run(src, tmp_path / "local", workers=2)
    pipe.run(src, tmp_path / "ray", workers=2, executor="ray")
    for sink in ("all", "code", "short_code", "rest"):
        assert shard_ids(tmp_path / "ray", sink) == shard_ids(tmp_path / "local", sink)
        assert read_output(tmp_path / "ray", sink).equals(read_output(tmp_path / "local", sink))


# ------------------------------------------------------------------------------ validation
def _refused(tmp_path: Path, body: str, *needles: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_graph(_yaml(tmp_path, body), Storage())
    for needle in needles:
        assert needle in str(err.value), str(err.value)
    return str(err.value)


def test_unknown_node_or_output_names_the_node_and_the_line(tmp_path: Path) -> None:
    _refused(tmp_path, "stages:\n  - stage: normalize\n  - stage: passthrough\n    input: nope\n",
             "line 3", "'passthrough'", "no stage 'nope'")
    _refused(tmp_path, "stages:\n  - stage: route\n    params: {routes: {a: 'true'}}\n"
                       "  - stage: passthrough\n    input: route.b\n",
             "line 4", "has no output 'b'", "a, rejected")
    _refused(tmp_path, "stages:\n  - stage: normalize\noutputs:\n  x: normalize.code\n", "line 4", "output 'x'")


def test_a_cycle_is_refused_naming_it(tmp_path: Path) -> None:
    _refused(tmp_path, "stages:\n  - stage: passthrough\n    name: a\n    input: b\n"
                       "  - stage: passthrough\n    name: b\n    input: a\n", "cycle", "a -> b -> a")


def test_a_union_of_different_inputs_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, "stages:\n  - stage: token_count\n  - stage: quality_buckets\n    params: {score_column: n_tokens}\n"
                       "  - stage: sample\n    params: {compute: 1.0e9}\n"
                       "  - stage: passthrough\n    input: [sample, quality_buckets]\n",
             "line 7", "unions outputs that do not come from the same input")


def test_two_sinks_of_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key 'x' given twice"):
        load_graph(_yaml(tmp_path, "stages:\n  - stage: normalize\noutputs:\n  x: normalize\n  x: normalize\n"), Storage())


def test_the_builder_refuses_a_sink_named_twice() -> None:
    p = Pipeline("p").add("normalize").output("x", "normalize")
    with pytest.raises(ConfigError, match="sink 'x' is already named"):
        p.output("x", "normalize.rejected")


def test_an_output_read_by_nothing_is_a_warning(tmp_path: Path) -> None:
    graph = load_graph(_yaml(tmp_path, "stages:\n  - stage: route\n    params: {routes: {a: 'true'}, "
                                            "default: b}\n  - stage: passthrough\n    input: route.a\n"), Storage())
    assert any("route.b" in w and "line 2" in w for w in unread_outputs(graph))


def test_route_conditions_are_checked_before_any_work(tmp_path: Path) -> None:
    _refused(tmp_path, "stages:\n  - stage: route\n    params: {routes: {a: 'kind = = 1'}}\n",
             "line 2", "route 'a'", "invalid SQL")
    src = _corpus(tmp_path / "in", n=10, files=1)
    pipe = Pipeline("p").add("route", routes={"a": "kidn = 'code'"}, default="b").add("passthrough", input="route.a")
    with pytest.raises(ConfigError, match="needs column 'kidn'"):
        pipe.run(src, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_a_missing_column_on_one_branch_of_a_union_is_named(tmp_path: Path) -> None:
    body = ("input_columns: [kind]\nstages:\n  - stage: route\n    params: {routes: {a: \"kind = 'code'\"}, "
            "default: b}\n  - stage: token_count\n    input: route.a\n  - stage: passthrough\n    name: other\n"
            "    input: route.b\n  - stage: quality_buckets\n    input: [token_count, other]\n"
            "    params: {score_column: n_tokens}\n")
    _refused(tmp_path, body, "line 10", "'quality_buckets' needs column 'n_tokens'", "branch 'other'")


def test_curate_stats_prints_the_graph_with_counts(routed) -> None:
    _, out, stats = routed
    r = curate("stats", str(out))
    assert r.returncode == 0, r.stderr
    by = {s["stage"]: s for s in stats["stages"]}
    line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("[code] code_len"))
    assert f"{by['code_len']['docs_in']:,} -> {by['code_len']['docs_out']:,}" in line
    assert any("merged (union with" in ln for ln in r.stdout.splitlines())
    assert "short_code" in r.stdout and "<- code_len.rejected" in r.stdout
