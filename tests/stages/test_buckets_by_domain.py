"""quality_buckets with by: domain: one bucket per (domain, quality) pair, quantile cuts within
each domain (checked against an independent statement of the rule), thresholds shared, null
domains counted as 'unknown', rows labelled with their pair's name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from tests.conftest import meta_file, read_output, write_parquet


def _corpus(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = 900
    domain = rng.choice(["web", "code", None], n, p=[0.6, 0.3, 0.1]).tolist()
    scores = np.where(np.array([d == "code" for d in domain]), rng.random(n) * 0.3, rng.random(n))  # code scores low
    rows = {schema.ID: [f"d{i:04d}" for i in range(n)], schema.TEXT: [f"t{i}" for i in range(n)],
            schema.QUALITY_SCORE: scores.tolist(), schema.N_TOKENS: rng.integers(5, 300, n).tolist(),
            schema.DOMAIN: domain}
    for s, part in enumerate(np.array_split(np.arange(n), 3)):
        write_parquet(root / f"shard-{s}.parquet", {k: [v[i] for i in part] for k, v in rows.items()})
    return rows


def _run(tmp_path: Path, params: dict) -> tuple[dict, object]:
    out = tmp_path / "out"
    Pipeline.from_stages([("quality_buckets", {"by": "domain", **params})]).run(tmp_path / "in", out, workers=2,
                                                                               overwrite=True)
    return json.loads(meta_file(out, "buckets.json").read_text()), read_output(out)


def test_quantiles_within_each_domain(tmp_path: Path) -> None:
    rows = _corpus(tmp_path / "in")
    doc, out = _run(tmp_path, {"quantiles": [0.7, 0.3]})
    domain = np.array([d if d is not None else "unknown" for d in rows[schema.DOMAIN]])
    scores, tokens = np.array(rows[schema.QUALITY_SCORE]), np.array(rows[schema.N_TOKENS])
    by_name = {b["name"]: b for b in doc["buckets"]}
    assert set(by_name) == {f"{d}/{q}" for d in ("code", "unknown", "web") for q in ("high", "medium", "low")}
    for d in ("web", "code", "unknown"):
        s, t = scores[domain == d], tokens[domain == d]
        ordered = np.sort(s)
        cut = [ordered[min(len(s) - 1, math.ceil(q * len(s)))] for q in (0.7, 0.3)]  # the rule, stated again
        want = {"high": s >= cut[0], "medium": (s >= cut[1]) & (s < cut[0]), "low": s < cut[1]}
        for q, mask in want.items():
            b = by_name[f"{d}/{q}"]
            assert (b["domain"], b["quality"]) == (d, q)
            assert b["docs"] == int(mask.sum()) and b["unique_tokens"] == int(t[mask].sum())
        assert doc["cuts"][d] == pytest.approx(cut)
    # code's best third is its own 'high', though every code score is below web's median
    assert by_name["code/high"]["docs"] == pytest.approx(0.3 * (domain == "code").sum(), abs=1)
    label = dict(zip(out[schema.ID].to_pylist(), out[schema.QUALITY_BUCKET].to_pylist()))
    for i, d in zip(rows[schema.ID], domain):
        assert label[i].startswith(f"{d}/")
    assert sum(b["docs"] for b in doc["buckets"]) == len(domain)


def test_thresholds_shared_and_errors(tmp_path: Path) -> None:
    rows = _corpus(tmp_path / "in")
    doc, _ = _run(tmp_path, {"thresholds": [0.5], "names": ["good", "rest"]})
    assert doc["cuts"] == [0.5] and doc["by"] == "domain"
    code = [b for b in doc["buckets"] if b["domain"] == "code"]
    assert [b["docs"] for b in code] == [0, sum(d == "code" for d in rows[schema.DOMAIN])]
    with pytest.raises(ConfigError, match="'by' column 'topic' not found|topic"):
        Pipeline.from_stages([("quality_buckets", {"by": "topic"})]).run(tmp_path / "in", tmp_path / "o2", workers=1)
