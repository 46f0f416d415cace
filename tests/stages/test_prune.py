"""prune: top fraction, threshold, per group, random baseline at the same kept fraction; determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.stages.prune import REASON_RANDOM, REASON_THRESHOLD, REASON_TOP_FRACTION
from tests.conftest import read_output, rejected_dir, write_parquet

N = 600
DOMAINS = ["news", "code", "legal"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    """600 documents over 3 shards with a score, a domain (uneven groups) and some null scores."""
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("prune") / "in"
    scores = rng.random(N).round(3)  # rounding makes ties, broken by id
    mask = rng.random(N) < 0.03
    domain = rng.choice(DOMAINS, N, p=[0.5, 0.3, 0.2])
    table = pa.table({
        schema.ID: [f"doc{i:04d}" for i in rng.permutation(N)],
        schema.TEXT: [f"text {i}" for i in range(N)],
        schema.QUALITY_SCORE: pa.array(scores, mask=mask),
        schema.DOMAIN: domain,
    })
    for s, (lo, hi) in enumerate([(0, 250), (250, 400), (400, N)]):
        write_parquet(root / f"shard-{s}.parquet", table.slice(lo, hi - lo).to_pydict())
    return root, table


def _run(tmp_path: Path, inp: Path, params: dict, seed: int = 0, workers: int = 1, name: str = "out"):
    out = tmp_path / name
    result = Pipeline.from_stages([("prune", params)]).run(inp, out, workers=workers, overwrite=True,
                                                           keep_rejected=True, seed=seed)
    kept = read_output(out)
    rej_files = sorted((rejected_dir(out, "prune")).glob("*.parquet"))
    rejected = pa.concat_tables([pq.read_table(f) for f in rej_files]) if rej_files else None
    return result, kept, rejected


def _rank_key(table: pa.Table) -> list[tuple]:
    """Score descending (null last), then id: the documented order."""
    rows = zip(table.column(schema.QUALITY_SCORE).to_pylist(), table.column(schema.ID).to_pylist())
    return sorted(rows, key=lambda r: (r[0] is None, -(r[0] or 0.0), r[1]))


def test_top_fraction_keeps_the_best_with_ties_by_id(tmp_path: Path, corpus) -> None:
    inp, table = corpus
    result, kept, rejected = _run(tmp_path, inp, {"fraction": 0.3})
    expected = {i for _, i in _rank_key(table)[: round(0.3 * N)]}
    assert set(kept.column(schema.ID).to_pylist()) == expected
    assert kept.num_rows == 180 and rejected.num_rows == N - 180
    assert set(rejected.column(schema.REJECT_REASON).to_pylist()) == {REASON_TOP_FRACTION}
    st = {s["stage"]: s for s in result.stats["stages"]}["prune"]
    assert st["summary"]["kept"] == 180 and st["summary"]["rejected"] == 420


def test_threshold_keeps_scores_at_or_above(tmp_path: Path, corpus) -> None:
    inp, table = corpus
    _, kept, rejected = _run(tmp_path, inp, {"threshold": 0.75})
    scores = table.column(schema.QUALITY_SCORE).to_pylist()
    ids = table.column(schema.ID).to_pylist()
    assert set(kept.column(schema.ID).to_pylist()) == {i for i, s in zip(ids, scores) if s is not None and s >= 0.75}
    assert set(rejected.column(schema.REJECT_REASON).to_pylist()) == {REASON_THRESHOLD}
    assert kept.num_rows + rejected.num_rows == N


def test_fraction_within_each_group(tmp_path: Path, corpus) -> None:
    inp, table = corpus
    result, kept, _ = _run(tmp_path, inp, {"fraction": 0.25, "group_by": schema.DOMAIN})
    expected = set()
    for d in DOMAINS:
        group = table.filter(pa.compute.equal(table.column(schema.DOMAIN), d))
        quota = int(np.floor(0.25 * group.num_rows + 0.5))
        expected |= {i for _, i in _rank_key(group)[:quota]}
        assert sum(1 for x in kept.column(schema.DOMAIN).to_pylist() if x == d) == quota
    assert set(kept.column(schema.ID).to_pylist()) == expected
    groups = {s["stage"]: s for s in result.stats["stages"]}["prune"]["summary"]["groups"]
    assert sorted(groups) == sorted(DOMAINS)
    assert sum(g["kept"] for g in groups.values()) == kept.num_rows


def test_random_mode_keeps_the_same_number_per_group_but_other_documents(tmp_path: Path, corpus) -> None:
    inp, table = corpus
    _, top, _ = _run(tmp_path, inp, {"fraction": 0.4, "group_by": schema.DOMAIN}, name="top")
    _, rnd, rejected = _run(tmp_path, inp, {"fraction": 0.4, "group_by": schema.DOMAIN, "random": True}, name="rnd")
    count = lambda t: sorted(pa.compute.value_counts(t.column(schema.DOMAIN)).to_pylist(), key=str)  # noqa: E731
    assert count(rnd) == count(top)
    assert set(rejected.column(schema.REJECT_REASON).to_pylist()) == {REASON_RANDOM}
    # a uniform draw: not the top documents, and about the corpus's mean score
    overlap = len(set(rnd.column(schema.ID).to_pylist()) & set(top.column(schema.ID).to_pylist()))
    assert overlap < 0.6 * top.num_rows
    mean_all = np.nanmean(np.array(table.column(schema.QUALITY_SCORE).to_pylist(), dtype=float))
    mean_rnd = np.nanmean(np.array(rnd.column(schema.QUALITY_SCORE).to_pylist(), dtype=float))
    mean_top = np.nanmean(np.array(top.column(schema.QUALITY_SCORE).to_pylist(), dtype=float))
    assert abs(mean_rnd - mean_all) < 0.06 and mean_top > mean_all + 0.2


def test_random_threshold_mode_keeps_as_many_as_pass_the_threshold(tmp_path: Path, corpus) -> None:
    inp, table = corpus
    _, kept, _ = _run(tmp_path, inp, {"threshold": 0.6, "random": True})
    passing = sum(1 for s in table.column(schema.QUALITY_SCORE).to_pylist() if s is not None and s >= 0.6)
    assert kept.num_rows == passing


def test_random_mode_is_seeded_and_independent_of_layout(tmp_path: Path, corpus) -> None:
    inp, table = corpus
    params = {"fraction": 0.5, "random": True}
    _, a, _ = _run(tmp_path, inp, params, seed=1, name="a")
    _, b, _ = _run(tmp_path, inp, params, seed=1, name="b", workers=2)
    _, c, _ = _run(tmp_path, inp, params, seed=2, name="c")
    one_shard = tmp_path / "one"
    write_parquet(one_shard / "all.parquet", table.to_pydict())
    _, d, _ = _run(tmp_path, one_shard, params, seed=1, name="d")
    ids = lambda t: set(t.column(schema.ID).to_pylist())  # noqa: E731
    assert ids(a) == ids(b) == ids(d)
    assert a.column(schema.ID).to_pylist() == b.column(schema.ID).to_pylist()
    assert ids(a) != ids(c) and len(ids(c)) == len(ids(a)) == N // 2


def test_null_scores_rank_last(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {
        schema.ID: ["a", "b", "c", "d"], schema.TEXT: ["w"] * 4, "s": [None, 0.1, None, 0.2]})
    _, kept, _ = _run(tmp_path, tmp_path / "in", {"fraction": 0.5, "score_column": "s"})
    assert sorted(kept.column(schema.ID).to_pylist()) == ["b", "d"]
    _, kept, _ = _run(tmp_path, tmp_path / "in", {"fraction": 0.75, "score_column": "s"}, name="o2")
    assert sorted(kept.column(schema.ID).to_pylist()) == ["a", "b", "d"]  # the null tie goes by id


@pytest.mark.parametrize("params, message", [
    ({}, "exactly one of"),
    ({"fraction": 0.5, "threshold": 0.5}, "exactly one of"),
    ({"fraction": 1.5}, "<= 1"),
])
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pipeline.from_stages([("prune", params)])


def test_missing_columns_are_clear_errors(tmp_path: Path, corpus) -> None:
    inp, _ = corpus
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'nope', which neither the input nor"):
        _run(tmp_path, inp, {"fraction": 0.5, "score_column": "nope"})
    with pytest.raises(ConfigError, match="stage 'prune' needs column 'nope'"):
        _run(tmp_path, inp, {"fraction": 0.5, "group_by": "nope"}, name="o2")
