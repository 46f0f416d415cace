"""quality_buckets: thresholds and exact quantiles, buckets.json format, counts after dropping stages."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.planner import buckets_from_dict
from curate.stages.buckets import assign, quantile_cuts
from curate.store import layout
from tests.conftest import read_output, write_parquet


def _corpus(root: Path, scores: list[float | None], tokens: list[int], shards: int = 3) -> Path:
    n = len(scores)
    ids = [f"d{i:05d}" for i in range(n)]
    bounds = [n * s // shards for s in range(shards + 1)]
    for s in range(shards):
        lo, hi = bounds[s], bounds[s + 1]
        write_parquet(root / f"shard-{s}.parquet", {
            schema.ID: ids[lo:hi], schema.TEXT: [f"text {i}" for i in range(lo, hi)],
            schema.QUALITY_SCORE: scores[lo:hi], schema.N_TOKENS: tokens[lo:hi],
        })
    return root


def _run(tmp_path: Path, inp: Path, stages: list, name: str = "out", workers: int = 1) -> tuple[dict, object]:
    out = tmp_path / name
    Pipeline.from_stages(stages).run(inp, out, workers=workers, overwrite=True, keep_rejected=True)
    return json.loads((out / layout.META / "quality_buckets" / "buckets.json").read_text()), read_output(out)


def _expected_quantile_counts(scores: np.ndarray, levels: list[float]) -> list[int]:
    """Independent statement of the rule: the cut for level q is the sorted score at ceil(q*n)."""
    s = np.sort(scores)
    cuts = [s[min(len(s) - 1, math.ceil(q * len(s)))] for q in levels]
    counts, upper = [], math.inf
    for c in cuts:
        counts.append(int(((scores >= c) & (scores < upper)).sum()))
        upper = c
    counts.append(int((scores < upper).sum()))
    return counts


def test_quantile_buckets_are_exact_and_buckets_json_has_the_planner_fields(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1000
    scores = rng.random(n)
    tokens = rng.integers(10, 500, n)
    inp = _corpus(tmp_path / "in", scores.tolist(), tokens.tolist())
    doc, table = _run(tmp_path, inp, [("quality_buckets", {"quantiles": [0.8, 0.5]})])

    assert [b["name"] for b in doc["buckets"]] == ["high", "medium", "low"]
    # distinct scores: top 20% / next 30% / bottom 50%, exactly
    assert [b["docs"] for b in doc["buckets"]] == _expected_quantile_counts(scores, [0.8, 0.5]) == [200, 300, 500]
    assert doc["method"] == "quantiles" and doc["docs"] == n and doc["unscored_docs"] == 0
    # each row's bucket agrees with buckets.json, and the sums are those of the rows
    buckets = np.array(table.column(schema.QUALITY_BUCKET).to_pylist())
    s = table.column(schema.QUALITY_SCORE).to_numpy()
    t = table.column(schema.N_TOKENS).to_numpy()
    for b in doc["buckets"]:
        rows = buckets == b["name"]
        assert rows.sum() == b["docs"]
        assert b["unique_tokens"] == int(t[rows].sum())
        assert b["mean_score"] == pytest.approx(float(s[rows].mean()))
        assert b["utility"] == 1.0
    assert s[buckets == "high"].min() > s[buckets == "medium"].max() > 0
    assert s[buckets == "medium"].min() > s[buckets == "low"].max()
    # the planner reads it
    parsed = buckets_from_dict(doc)
    assert [(b.name, b.unique_tokens) for b in parsed] == [(b["name"], b["unique_tokens"]) for b in doc["buckets"]]


def test_default_is_equal_sized_buckets(tmp_path: Path) -> None:
    scores = np.linspace(0, 1, 90, endpoint=False)
    inp = _corpus(tmp_path / "in", scores.tolist(), [1] * 90)
    doc, _ = _run(tmp_path, inp, [("quality_buckets", {})])
    assert doc["quantiles"] == pytest.approx([2 / 3, 1 / 3])
    assert [b["docs"] for b in doc["buckets"]] == [30, 30, 30]


def test_thresholds_boundaries_nulls_and_utilities(tmp_path: Path) -> None:
    scores = [0.9, 0.7, 0.69999, 0.3, 0.29, 0.0, None, 1.0]
    inp = _corpus(tmp_path / "in", scores, [10, 20, 30, 40, 50, 60, 70, 80], shards=2)
    doc, table = _run(tmp_path, inp, [("quality_buckets", {
        "names": ["good", "ok", "bad"], "thresholds": [0.7, 0.3], "utility": {"good": 2.5, "bad": 0.25}})])
    got = dict(zip(table.column(schema.ID).to_pylist(), table.column(schema.QUALITY_BUCKET).to_pylist()))
    assert [got[f"d{i:05d}"] for i in range(8)] == ["good", "good", "ok", "ok", "bad", "bad", "bad", "good"]
    b = {x["name"]: x for x in doc["buckets"]}
    assert (b["good"]["docs"], b["ok"]["docs"], b["bad"]["docs"]) == (3, 2, 3)
    assert (b["good"]["unique_tokens"], b["ok"]["unique_tokens"], b["bad"]["unique_tokens"]) == (110, 70, 180)
    assert (b["good"]["utility"], b["ok"]["utility"], b["bad"]["utility"]) == (2.5, 1.0, 0.25)
    assert b["bad"]["mean_score"] == pytest.approx((0.29 + 0.0) / 2)  # the null score is not averaged
    assert doc["unscored_docs"] == 1 and doc["cuts"] == [0.7, 0.3] and doc["method"] == "thresholds"
    assert b["good"]["min_score"] == 0.7 and b["bad"]["min_score"] is None


def test_ties_at_a_quantile_cut_go_up_together() -> None:
    scores = np.array([0.5] * 8 + [0.1, 0.2])
    cuts = quantile_cuts(scores, [0.5])
    assert cuts == [0.5]
    assert assign(scores, cuts).tolist() == [0] * 8 + [1, 1]
    # no scored document at all: everything in the last bucket
    nan = np.full(3, np.nan)
    assert assign(nan, quantile_cuts(nan, [0.5, 0.2])).tolist() == [2, 2, 2]


def test_counts_are_those_after_a_dropping_stage(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    scores = rng.random(400)
    inp = _corpus(tmp_path / "in", scores.tolist(), [7] * 400, shards=4)
    doc, table = _run(tmp_path, inp, [("prune", {"fraction": 0.5}), ("quality_buckets", {"quantiles": [0.5], "names": ["top", "rest"]})])
    assert table.num_rows == 200
    assert sum(b["docs"] for b in doc["buckets"]) == 200 == doc["docs"]
    assert [b["docs"] for b in doc["buckets"]] == [100, 100]
    assert sum(b["unique_tokens"] for b in doc["buckets"]) == 1400


def test_same_buckets_with_two_workers(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    scores = rng.random(600)
    inp = _corpus(tmp_path / "in", scores.tolist(), rng.integers(1, 100, 600).tolist(), shards=4)
    stages = [("quality_buckets", {"quantiles": [0.9, 0.6, 0.2], "names": ["a", "b", "c", "d"]})]
    one, t1 = _run(tmp_path, inp, stages, "one", workers=1)
    two, t2 = _run(tmp_path, inp, stages, "two", workers=2)
    assert one == two
    assert t1.column(schema.QUALITY_BUCKET).to_pylist() == t2.column(schema.QUALITY_BUCKET).to_pylist()


@pytest.mark.parametrize("params, message", [
    ({"thresholds": [0.5], "quantiles": [0.5]}, "not both"),
    ({"thresholds": [0.5]}, "needs 2 numbers"),
    ({"thresholds": [0.2, 0.5]}, "strictly descending"),
    ({"quantiles": [1.5, 0.5]}, r"in \[0, 1\)"),
    ({"names": ["a", "a"]}, "distinct"),
    ({"utility": {"nope": 1.0}}, "unknown bucket"),
    ({"utility": [1.0]}, "needs 3 values"),
    ({"utility": -1}, ">= 0"),
])
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pipeline.from_stages([("quality_buckets", params)])


def test_missing_score_or_token_column_is_a_clear_error(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {schema.ID: ["a"], schema.TEXT: ["x"], schema.N_TOKENS: [1]})
    with pytest.raises(ConfigError, match="needs column 'quality_score'.*made by stage 'classify'"):
        Pipeline.from_stages([("quality_buckets", {})]).run(tmp_path / "in", tmp_path / "o1", workers=1)
    write_parquet(tmp_path / "in2" / "a.parquet", {schema.ID: ["a"], schema.TEXT: ["x"], schema.QUALITY_SCORE: [0.5]})
    with pytest.raises(ConfigError, match="needs column 'n_tokens'.*made by stage 'token_count'"):
        Pipeline.from_stages([("quality_buckets", {})]).run(tmp_path / "in2", tmp_path / "o2", workers=1)
