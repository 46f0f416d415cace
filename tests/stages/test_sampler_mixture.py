"""The sampler writes a mixture plan: buckets by domain and quality (quality_buckets with by:
domain), a plan from a mixture law with two phases, written phase by phase; per phase and per
domain the written token shares are within 1% of the plan's (or one document), on the local
executor and on Ray; every output shard holds its phases' share of every domain (one document);
repeats stay spaced; `curate sample --mixture` writes proxy-run sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from tests.conftest import data_dir, meta_file, read_output, shard_ids
from tests.in_process import curate

DOMAINS = {"web": 1800, "code": 700, "books": 500}  # documents per domain
SHARDS = 4
PHASES = [{"until": 0.85}, {"until": 1.0, "upsample": {"high": 3}}]


def _corpus(root: Path, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    domain = np.concatenate([[d] * n for d, n in DOMAINS.items()])
    rng.shuffle(domain)
    n = domain.size
    tokens = np.clip(rng.lognormal(4.5, 0.6, n), 10, 600).astype(np.int64)
    table = pa.table({
        schema.ID: [f"doc-{i:05d}" for i in range(n)],
        schema.TEXT: [f"{d} document {i}" for i, d in enumerate(domain)],
        schema.N_TOKENS: tokens,
        schema.QUALITY_SCORE: rng.random(n),
        schema.DOMAIN: domain,
    })
    root.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(n), SHARDS)):
        pq.write_table(table.take(pa.array(part)), root / f"shard-{i}.parquet")
    return table


def _law(path: Path) -> Path:
    """A planted Data Mixing Law over the three domains (code and books worth more than their size)."""
    t = {"web": 0.9, "code": -0.6, "books": -0.3}
    path.write_text(json.dumps({
        "format": "curate-law/1", "kind": "mixture", "name": "planted", "model": "exponential",
        "domains": list(DOMAINS), "target": {"name": "val", "weights": {"val": 1.0}},
        "exponential": {"val": {"c": 2.0, "k": 0.8, "t": t}},
        "range": {"proportions": {d: [0.0, 1.0] for d in DOMAINS}},
    }))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, Path]:
    root = tmp_path_factory.mktemp("mixture")
    return root / "in", _corpus(root / "in"), _law(root / "law.json")


BUCKETS = ("quality_buckets", {"names": ["high", "medium", "low"], "quantiles": [0.7, 0.3], "by": "domain"})


def _run(corpus, out: Path, **run) -> dict:
    """quality_buckets by domain, then sample planning from the mixture law: a run of 1.6x the
    corpus's tokens for an 800K-parameter model (C = 6 N D), in two phases."""
    inp, table, law = corpus
    compute = 6 * 8e5 * 1.6 * int(table[schema.N_TOKENS].to_numpy().sum())
    stages = [BUCKETS, ("sample", {"law": str(law), "compute": compute, "n_params": 8e5, "max_epochs": 4.0,
                                   "phases": PHASES})]
    result = Pipeline.from_stages(stages).run(inp, out, overwrite=True, **run)
    return next(s for s in result.stages if s["stage"] == "sample")


def _check_shares(corpus, out: Path, stats: dict) -> None:
    """Per phase and per domain, the written token shares (read from the output, phase by token
    position) are within 1% of the plan's, or one document."""
    _, table, _ = corpus
    plan = json.loads(meta_file(out, "plan.json").read_text())
    assert plan["kind"] == "mixture" and len(plan["buckets"]) == 9 and len(plan["phases"]) == 2
    got = read_output(out)
    tok = got[schema.N_TOKENS].to_numpy().astype(np.float64)
    dom = np.asarray(got[schema.DOMAIN].to_pylist())
    largest = float(table[schema.N_TOKENS].to_numpy().max())
    mid = (np.cumsum(tok) - tok / 2) / tok.sum()
    start = 0.0
    for p, phase in enumerate(plan["phases"]):
        sel = (mid >= start) & (mid < phase["until"])
        total = tok[sel].sum()
        for d, want in phase["domains"].items():
            written = tok[sel & (dom == d)].sum()
            assert abs(written - want["share"] * total) <= max(0.01 * want["share"] * total, largest), (p, d)
            report = stats["summary"]["phases"][p]["domains"][d]
            assert report["written_tokens"] == pytest.approx(written, abs=largest)
            assert abs(report["share"] - report["planned_share"]) * report["planned_tokens"] <= max(
                0.01 * report["planned_tokens"], largest)
        start = phase["until"]
    # output shard i (a contiguous slice of the order) holds its share of every domain: each row
    # expects its phase's shares, and a shard's domains add up to them within one document each
    bounds = np.cumsum([0] + [pq.ParquetFile(f).metadata.num_rows for f in sorted(data_dir(out).glob("part-*.parquet"))])
    assert len(bounds) > 2  # more than one shard
    phase_of = np.searchsorted([p["until"] for p in plan["phases"]], mid, side="right")
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        for d in DOMAINS:
            want = sum(tok[lo:hi][phase_of[lo:hi] == p].sum() * phase["domains"][d]["share"]
                       for p, phase in enumerate(plan["phases"]))
            assert abs(tok[lo:hi][dom[lo:hi] == d].sum() - want) <= largest, (lo, d)
    # the last phase upsamples the high buckets: their share of it is larger than of the first
    high = [stats["summary"]["phases"][p]["qualities"]["high"]["share"] for p in (0, 1)]
    assert high[1] > 1.5 * high[0]
    # every bucket's tokens as planned, every domain's too
    for entry in stats["summary"]["domains"].values():
        assert abs(entry["written_tokens"] - entry["planned_tokens"]) <= max(0.01 * entry["planned_tokens"], 3 * largest)
    for name, b in stats["summary"]["buckets"].items():
        assert b["min_repeat_gap_passes"] is None or b["min_repeat_gap_passes"] > 0.5, name


@pytest.fixture(scope="module")
def local_run(corpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("local") / "out"
    return out, _run(corpus, out, workers=2)


def test_buckets_by_domain_and_quality(corpus, local_run) -> None:
    _, table, _ = corpus
    out, _ = local_run
    doc = json.loads(meta_file(out, "buckets.json").read_text())
    assert doc["by"] == "domain" and set(doc["cuts"]) == set(DOMAINS)
    names = {b["name"]: b for b in doc["buckets"]}
    assert set(names) == {f"{d}/{q}" for d in DOMAINS for q in ("high", "medium", "low")}
    domain = np.asarray(table[schema.DOMAIN].to_pylist())
    tokens = table[schema.N_TOKENS].to_numpy()
    for d, n in DOMAINS.items():
        mine = [names[f"{d}/{q}"] for q in ("high", "medium", "low")]
        assert sum(b["docs"] for b in mine) == n
        assert sum(b["unique_tokens"] for b in mine) == int(tokens[domain == d].sum())
        assert all(b["domain"] == d for b in mine)
        assert abs(names[f"{d}/high"]["docs"] - 0.3 * n) <= 1  # quantiles within the domain


def test_mixture_plan_written_phase_by_phase_locally(corpus, local_run) -> None:
    out, stats = local_run
    _check_shares(corpus, out, stats)
    assert (meta_file(out, "plan.png")).read_bytes().startswith(b"\x89PNG")


@pytest.mark.ray
def test_mixture_plan_written_phase_by_phase_on_ray(corpus, local_run, local_ray, tmp_path: Path) -> None:
    out = tmp_path / "ray"
    stats = _run(corpus, out, workers=2, executor="ray")
    _check_shares(corpus, out, stats)
    assert shard_ids(out) == shard_ids(local_run[0])  # the same mixture, byte for byte, as the local run


def test_sample_verb_writes_proxy_sets_from_drawn_mixtures(corpus, local_run, tmp_path: Path) -> None:
    """curate mixtures draws proxy mixtures from buckets.json; curate sample --mixture writes each
    one's training set (OUTPUT/<name>/) with the mixture's domain shares of --tokens tokens."""
    inp, table, _ = corpus
    out, _ = local_run
    mixes = tmp_path / "mixes.csv"
    r = curate("mixtures", "--buckets", str(out), "--n", "3", "--seed", "1", "--minimum", "0.01",
                        "-o", str(mixes))
    assert r.returncode == 0, r.stderr
    bucketed = tmp_path / "bucketed"  # the corpus with its (domain, quality) buckets: what proxies sample from
    Pipeline.from_stages([BUCKETS]).run(inp, bucketed, workers=1)
    tokens = 2e5
    proxies = tmp_path / "proxies"
    r = curate("sample", "--input", str(bucketed), "--mixture", str(mixes), "--tokens", str(tokens),
                        "--output", str(proxies), "--workers", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    import csv

    rows = list(csv.DictReader(mixes.open()))
    largest = float(table[schema.N_TOKENS].to_numpy().max())
    for row in rows:
        got = read_output(proxies / row["name"])
        tok = got[schema.N_TOKENS].to_numpy().astype(np.float64)
        dom = np.asarray(got[schema.DOMAIN].to_pylist())
        assert abs(tok.sum() - tokens) <= 0.01 * tokens + 9 * largest
        for d in DOMAINS:
            want = float(row[f"mixture.{d}"]) * tokens
            assert abs(tok[dom == d].sum() - want) <= max(0.01 * want, 3 * largest), (row["name"], d)
    bad = curate("sample", "--input", str(bucketed), "--mixture", str(mixes), "--output",
                          str(tmp_path / "x"))
    assert bad.returncode == 2 and "--tokens" in bad.stderr
