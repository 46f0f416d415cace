"""The sampler: copies, spacing and spreading (unit), then real runs through the Pipeline API."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.stages.sample import bucket_stream, copies_per_doc, interleave
from curate.store import layout
from tests.conftest import data_dir, read_output, rejected_dir, shard_ids, work_dir
from tests.in_process import curate

EPOCHS = {"high": 3.4, "mid": 1.5, "low": 0.6}
SHARD_SIZES = (1500, 1500, 1100, 900)


# ------------------------------------------------------------------ unit: copies, stream, spread


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 400), epochs=st.floats(0.0, 7.0), seed=st.integers(0, 2**32 - 1))
def test_copies_hit_the_token_target_within_half_a_document(n: int, epochs: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 1000, n).astype(np.float64)
    score = rng.random(n)
    hashes = rng.integers(0, 2**63, n).astype(np.uint64)
    c = copies_per_doc(tokens, np.full(n, epochs), score, hashes)
    assert set(np.unique(c)) <= {math.floor(epochs), math.floor(epochs) + 1}
    assert abs((c * tokens).sum() - epochs * tokens.sum()) <= tokens.max() / 2 + 1e-6
    extra = c > math.floor(epochs)
    if extra.any() and (~extra).any():  # the fractional pass takes the highest-scored documents
        assert score[extra].min() > score[~extra].max()


@settings(max_examples=60, deadline=None)
@given(copies=st.lists(st.integers(0, 6), min_size=1, max_size=300), salt=st.integers(0, 1000))
def test_stream_passes_and_repeat_spacing(copies: list[int], salt: int) -> None:
    c = np.array(copies)
    hashes = np.random.default_rng(salt).integers(0, 2**63, c.size).astype(np.uint64)
    docs, epochs = bucket_stream(c, hashes, salt)
    assert docs.size == c.sum()
    pass_sizes = np.bincount(epochs, minlength=int(c.max()))
    for p in range(int(c.max())):
        assert sorted(docs[epochs == p]) == sorted(np.flatnonzero(c > p))  # pass p: documents with > p copies
    for d in np.flatnonzero(c > 1):
        pos = np.flatnonzero(docs == d)
        assert list(epochs[pos]) == list(range(c[d]))  # copies appear pass by pass
        gaps = np.diff(pos)
        assert (gaps > pass_sizes[: c[d] - 1] / 2).all()  # more than half a pass apart


def test_interleave_spreads_every_bucket_by_tokens() -> None:
    rng = np.random.default_rng(3)
    tokens = rng.integers(10, 2000, 9000)
    streams = [np.arange(0, 1000), np.arange(1000, 4000), np.arange(4000, 9000)]
    order = interleave(streams, tokens)
    docs = np.concatenate(streams)[np.concatenate([[0], np.cumsum([s.size for s in streams])])[order[:, 0]] + order[:, 1]]
    bucket = np.searchsorted([1000, 4000], docs, side="right")
    _assert_spread(bucket, tokens[docs])


def _assert_spread(bucket: np.ndarray, tokens: np.ndarray, min_docs: int = 1000) -> None:
    """In each tenth of the output (by tokens and by rows), each large bucket's token share is
    within 20% of its overall share."""
    tokens = tokens.astype(np.float64)
    mid = np.cumsum(tokens) - tokens / 2
    by_tokens = np.minimum((mid / tokens.sum() * 10).astype(int), 9)
    by_rows = np.arange(tokens.size) * 10 // tokens.size
    for b in np.unique(bucket):
        if (bucket == b).sum() < min_docs:
            continue
        share = tokens[bucket == b].sum() / tokens.sum()
        for tenth in (by_tokens, by_rows):
            for k in range(10):
                sel = tenth == k
                local = tokens[sel & (bucket == b)].sum() / tokens[sel].sum()
                assert abs(local / share - 1) <= 0.2, (b, k, local, share)


# ------------------------------------------------------------------ end to end through the runtime


def _corpus(root: Path, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = sum(SHARD_SIZES)
    names = np.array(["high", "mid", "low"])
    bucket = names[rng.choice(3, n, p=[0.25, 0.35, 0.40])]
    tokens = np.clip(rng.lognormal(5, 0.8, n), 5, 3000).astype(np.int64)
    table = pa.table({
        schema.ID: [f"doc-{i:06d}" for i in range(n)],
        schema.TEXT: [f"document {i} " + "word " * int(t % 40) for i, t in enumerate(tokens)],
        schema.N_TOKENS: tokens,
        schema.QUALITY_BUCKET: bucket,
        schema.QUALITY_SCORE: rng.random(n),
        schema.DUP_COUNT: rng.choice([1, 1, 1, 2, 5, 40], n),
    })
    root.mkdir(parents=True, exist_ok=True)
    start = 0
    for i, size in enumerate(SHARD_SIZES):
        pq.write_table(table.slice(start, size), root / f"shard-{i}.parquet")
        start += size
    return table


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, Path]:
    root = tmp_path_factory.mktemp("sampler")
    table = _corpus(root / "in")
    plan = root / "plan.json"
    plan.write_text(json.dumps({"buckets": [{"name": k, "epochs": v} for k, v in EPOCHS.items()]}))
    return root / "in", table, plan


def _run(corpus, out: Path, workers: int = 1, seed: int = 0, **params) -> dict:
    inp, _, plan = corpus
    params = {"plan": str(plan), **params}
    result = Pipeline.from_stages([("sample", params)]).run(inp, out, workers=workers, overwrite=True, seed=seed)
    return next(s for s in result.stages if s["stage"] == "sample")


@pytest.fixture(scope="module")
def sampled(corpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sampled") / "out"
    return out, _run(corpus, out, workers=2)


def test_written_tokens_match_the_plan(corpus, sampled) -> None:
    _, table, _ = corpus
    out, stats = sampled
    got = read_output(out)
    for name, epochs in EPOCHS.items():
        src = pc_sum(table, name)
        written = pc_sum(got, name)
        largest = max(t for t, b in zip(table[schema.N_TOKENS].to_pylist(), table[schema.QUALITY_BUCKET].to_pylist(),
                                        strict=True) if b == name)
        assert abs(written - epochs * src) <= max(0.01 * epochs * src, largest)
        assert abs(written / (epochs * src) - 1) < 0.01
        assert stats["counters"][f"tokens_written:{name}"] == written
        assert stats["summary"]["buckets"][name]["written_tokens"] == written
        assert stats["summary"]["buckets"][name]["planned_tokens"] == pytest.approx(epochs * src)


def pc_sum(table: pa.Table, bucket: str) -> int:
    mask = np.asarray(table[schema.QUALITY_BUCKET].to_pylist()) == bucket
    return int(table[schema.N_TOKENS].to_numpy()[mask].sum())


def test_copies_epochs_and_accounting(corpus, sampled) -> None:
    _, table, _ = corpus
    out, stats = sampled
    got = read_output(out)
    assert got.num_rows == stats["docs_out"] == stats["summary"]["rows_out"]
    ids = got[schema.ID].to_pylist()
    epochs = got[schema.EPOCH_INDEX].to_pylist()
    bucket_of = dict(zip(table[schema.ID].to_pylist(), table[schema.QUALITY_BUCKET].to_pylist(), strict=True))
    seen: dict[str, list[int]] = {}
    for i, e in zip(ids, epochs, strict=True):
        seen.setdefault(i, []).append(e)
    for i, eps in seen.items():
        assert eps == list(range(len(eps)))  # epoch_index counts the copies, in output order
        e = EPOCHS[bucket_of[i]]
        assert len(eps) in (math.floor(e), math.floor(e) + 1)
    summary = stats["summary"]
    assert summary["docs_in"] == table.num_rows == stats["docs_in"]
    assert summary["docs_in"] == summary["docs_sampled"] + sum(summary["not_sampled"].values())
    assert summary["docs_sampled"] == len(seen)
    # every document of a bucket with >= 1 epoch is written
    assert {i for i, b in bucket_of.items() if EPOCHS[b] >= 1} <= set(seen)


def test_fractional_pass_takes_the_best_scored(corpus, sampled) -> None:
    _, table, _ = corpus
    out, _ = sampled
    got = read_output(out)
    counts: dict[str, int] = {}
    for i in got[schema.ID].to_pylist():
        counts[i] = counts.get(i, 0) + 1
    score = dict(zip(table[schema.ID].to_pylist(), table[schema.QUALITY_SCORE].to_pylist(), strict=True))
    for name, e in EPOCHS.items():
        members = [i for i, b in zip(table[schema.ID].to_pylist(), table[schema.QUALITY_BUCKET].to_pylist(),
                                     strict=True) if b == name]
        extra = [score[i] for i in members if counts.get(i, 0) == math.floor(e) + 1]
        rest = [score[i] for i in members if counts.get(i, 0) == math.floor(e)]
        assert extra and rest and min(extra) > max(rest)


def test_every_bucket_spread_evenly_and_repeats_spaced(corpus, sampled) -> None:
    _, table, _ = corpus
    out, stats = sampled
    got = read_output(out)
    bucket = np.asarray(got[schema.QUALITY_BUCKET].to_pylist())
    _assert_spread(bucket, got[schema.N_TOKENS].to_numpy())
    ids = np.asarray(got[schema.ID].to_pylist())
    n_docs = {b: int((np.asarray(table[schema.QUALITY_BUCKET].to_pylist()) == b).sum()) for b in EPOCHS}
    for name in EPOCHS:
        stream = ids[bucket == name]  # the bucket's own subsequence of the output
        first: dict[str, int] = {}
        gaps = []
        for pos, i in enumerate(stream):
            if i in first:
                gaps.append(pos - first[i])
            first[i] = pos
        if gaps:  # every pass before a repeat is a full pass of the bucket here
            assert min(gaps) > n_docs[name] / 2
            assert stats["summary"]["buckets"][name]["min_repeat_gap_passes"] > 0.5


def test_same_output_for_one_or_two_workers_and_seed_matters(corpus, sampled, tmp_path: Path) -> None:
    out2, _ = sampled
    _run(corpus, tmp_path / "w1", workers=1)
    assert shard_ids(tmp_path / "w1") == shard_ids(out2)
    a, b = read_output(tmp_path / "w1"), read_output(out2)
    assert a[schema.EPOCH_INDEX].to_pylist() == b[schema.EPOCH_INDEX].to_pylist()
    assert [p.name for p in sorted(data_dir(out2).glob("part-*.parquet"))] == [f"part-{i:05d}.parquet" for i in range(4)]
    _run(corpus, tmp_path / "s7", workers=1, seed=7, fraction_by="random")
    other = read_output(tmp_path / "s7")
    assert other[schema.ID].to_pylist() != a[schema.ID].to_pylist()


def test_upsampling_by_dup_count_keeps_bucket_tokens(corpus, tmp_path: Path) -> None:
    _, table, _ = corpus
    stats = _run(corpus, tmp_path / "up", upsample_by_dup_count=True)
    got = read_output(tmp_path / "up")
    for name, e in EPOCHS.items():
        assert abs(pc_sum(got, name) / (e * pc_sum(table, name)) - 1) < 0.01
    dup = dict(zip(table[schema.ID].to_pylist(), table[schema.DUP_COUNT].to_pylist(), strict=True))
    counts: dict[str, int] = {}
    for i in got[schema.ID].to_pylist():
        counts[i] = counts.get(i, 0) + 1
    high = [i for i, b in zip(table[schema.ID].to_pylist(), table[schema.QUALITY_BUCKET].to_pylist(), strict=True)
            if b == "high"]
    widely = np.mean([counts.get(i, 0) for i in high if dup[i] == 40])
    single = np.mean([counts.get(i, 0) for i in high if dup[i] == 1])
    assert widely > 1.5 * single
    assert stats["summary"]["buckets"]["high"]["min_repeat_gap_passes"] > 0.5


def test_compute_mode_plans_from_buckets_json(corpus, tmp_path: Path) -> None:
    from curate.planner import buckets_from_dict, plan

    inp, table, _ = corpus
    stages = [
        ("quality_buckets", {"names": ["high", "medium", "low"], "quantiles": [0.7, 0.3],
                             "utility": {"high": 2.0, "medium": 1.0, "low": 0.5}}),
        ("sample", {"compute": 2e12, "max_epochs": 1000.0}),  # above the default cap (2 epochs at this N, issue 29)
    ]
    result = Pipeline.from_stages(stages).run(inp, tmp_path / "out", workers=1, overwrite=True)
    out = tmp_path / "out"
    doc = json.loads((out / layout.META / "sample" / "plan.json").read_text())
    assert (out / layout.META / "sample" / "plan.png").read_bytes().startswith(b"\x89PNG")
    expected = plan(buckets_from_dict(json.loads((out / layout.META / "quality_buckets" / "buckets.json").read_text())),
                    2e12, max_epochs=1000.0, ranges=False)
    assert [b["epochs"] for b in doc["buckets"]] == pytest.approx([b.epochs for b in expected.buckets], rel=1e-9)
    got = read_output(out)
    written = int(got[schema.N_TOKENS].to_numpy().sum())
    assert abs(written / doc["tokens"] - 1) < 0.01
    summary = next(s for s in result.stages if s["stage"] == "sample")["summary"]
    assert summary["plan"]["law"] == "datablations" and summary["plan"]["compute"] == 2e12
    epochs = [b["epochs"] for b in doc["buckets"]]
    assert len(set(round(e, 6) for e in epochs)) == 3  # different utilities, different epochs


def test_scattered_shards_equal_a_direct_gather_from_the_state(corpus, sampled) -> None:
    """Each output shard is exactly its slice of the planned order: gathered here straight from
    every source task's copy list (row, dest, pos, epoch) and that task's input rows (its input
    file, read again by the sampler: no copy of the input is kept in the work folder)."""
    import pyarrow.compute as pc

    inp, _, _ = corpus
    out, _ = sampled
    state = work_dir(out) / "stages" / "sample" / "state"
    sources = sorted(state.glob("src-*.parquet"))
    inputs = sorted(inp.glob("*.parquet"))
    assert len(sources) == len(inputs) > 1
    assert not (work_dir(out) / "streams" / "read").exists()
    shards = sorted(data_dir(out).glob("part-*.parquet"))
    for t, shard in enumerate(shards):
        parts = []
        for src_state, src_rows in zip(sources, inputs, strict=True):
            copies = pq.read_table(src_state, filters=[("dest", "=", t)])
            rows = pq.read_table(src_rows).take(copies.column("row"))
            parts.append(rows.append_column("epoch_index", copies.column("epoch"))
                         .append_column("pos", copies.column("pos")))
        direct = pa.concat_tables(parts)
        direct = direct.take(pc.sort_indices(direct.column("pos"))).drop_columns(["pos"])
        assert pq.read_table(shard).equals(direct.cast(pq.read_schema(shard)))


def test_config_errors(corpus, tmp_path: Path) -> None:
    from curate.stages.sample import Sample

    with pytest.raises(ConfigError, match="either 'plan'"):
        Sample()
    with pytest.raises(ConfigError, match="either 'plan'"):
        Sample(plan="p.json", compute=1e20)
    with pytest.raises(ConfigError, match="must be a number"):
        Sample(compute="lots")
    with pytest.raises(ConfigError, match="positive"):
        Sample(compute=-1.0)
    assert Sample(compute="1e21").compute == 1e21  # YAML reads 1e21 as a string
    inp, _, _ = corpus
    with pytest.raises(ConfigError, match="buckets"):
        Pipeline.from_stages([("sample", {"compute": 1e12})]).run(inp, tmp_path / "o1", workers=1)
    bare = tmp_path / "bare"
    bare.mkdir()
    pq.write_table(pa.table({schema.ID: ["a"], schema.TEXT: ["x"], schema.N_TOKENS: [3]}), bare / "s.parquet")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"buckets": [{"name": "high", "epochs": 1}]}))
    with pytest.raises(ConfigError, match="quality_bucket"):
        Pipeline.from_stages([("sample", {"plan": str(plan)})]).run(bare, tmp_path / "o2", workers=1)


def test_sample_verb(corpus, sampled, tmp_path: Path) -> None:


    inp, _, plan = corpus
    out = tmp_path / "cli"
    r = curate("sample", "--input", str(inp), "--plan", str(plan), "--output", str(out),
                        "--workers", "1", "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["docs_out"] == read_output(out).num_rows
    assert shard_ids(out) == shard_ids(sampled[0])  # same seed, same mixture as the API run
    bad = curate("sample", "--input", str(inp), "--plan", str(tmp_path / "missing.json"), "--output",
                          str(tmp_path / "x"))
    assert bad.returncode == 2


def test_unsampled_documents_are_rejected_with_a_reason(corpus, tmp_path: Path) -> None:
    inp, table, plan = corpus
    out = tmp_path / "out"
    result = Pipeline.from_stages([("sample", {"plan": str(plan)})]).run(inp, out, workers=2, keep_rejected=True)
    stats = next(s for s in result.stages if s["stage"] == "sample")
    written = set(read_output(out)[schema.ID].to_pylist())
    rejected = pq.read_table(rejected_dir(out, "sample"))
    assert set(rejected[schema.REJECT_REASON].to_pylist()) == {"not_sampled"}
    rejected_ids = set(rejected[schema.ID].to_pylist())
    assert rejected_ids and rejected_ids.isdisjoint(written)
    assert rejected_ids | written == set(table[schema.ID].to_pylist())  # nothing disappears
    assert stats["rejected"] == {"not_sampled": len(rejected_ids)}
    assert stats["docs_in"] == stats["summary"]["docs_sampled"] + stats["rejected_total"]
