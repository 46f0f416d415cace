"""Calibration from proxy runs: recovery of known constants, interval coverage, holdout, law.json,
plans under calibrated laws (per-bucket R_D*, epochs ranges), and the plan's limits.

Proxy runs are generated from known constants with the planner's own scalar ``Law.loss`` and
``effective_tokens`` (not the fit's vectorized model), plus log-normal noise.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.optimize import minimize

from curate import calibrate as api_calibrate
from curate.errors import ConfigError, InputError
from curate.planner import (
    DATABLATIONS,
    Bucket,
    allocate,
    buckets_for_law,
    calibrate,
    effective_tokens,
    plan,
    read_law,
    read_runs,
    runs_from_rows,
)
from curate.planner.limits import TIE_TOLERANCE, doubling_gain
from curate.store import layout
from tests.in_process import curate

NOISE = 0.003  # sd of log loss: about 0.3% per run


def true_loss(law, utility: dict, r_d: dict, params: float, pools: dict[str, tuple[float, float]]) -> float:
    """The planner's loss for a run: D_eff and U_used summed over its pools (utility 1 for the reference)."""
    d_eff = sum(utility.get(p, 1.0) * float(effective_tokens(t, u, r_d.get(p, law.r_d))) for p, (t, u) in pools.items())
    u_used = sum(utility.get(p, 1.0) * min(t, u) for p, (t, u) in pools.items())
    return law.loss(params, d_eff, u_used)


def single_pool_rows(law, rng: np.random.Generator) -> list[dict]:
    rows = []
    for n in (2e7, 8e7, 3e8):
        for u in (1e8, 1e9):
            for e in (1, 2, 4, 8, 16, 32):
                loss = true_loss(law, {}, {}, n, {"": (u * e, u)}) * math.exp(rng.normal(0, NOISE))
                rows.append({"name": f"N{n:.0e}-U{u:.0e}-{e}ep", "params": n, "tokens": u * e, "unique_tokens": u,
                             "loss": loss})
    return rows


BUCKET_TRUTH = {"utility": {"high": 1.0, "mid": 0.8, "low": 0.5}, "r_d": {"high": 6.0, "mid": 12.0, "low": 20.0}}
UNIQUE = {"high": 2e8, "mid": 5e8, "low": 1e9}


def mixture_rows(law, rng: np.random.Generator, utility: dict | None = None, r_d: dict | None = None) -> list[dict]:
    """Per-bucket runs at 0.5-16 epochs and two-bucket mixtures, at two model sizes."""
    utility = BUCKET_TRUTH["utility"] if utility is None else utility
    r_d = BUCKET_TRUTH["r_d"] if r_d is None else r_d
    designs = []
    for n in (5e7, 2e8):
        for b, u in UNIQUE.items():
            for e in (0.5, 1, 4, 16):
                designs.append((f"{b}-N{n:.0e}-{e}ep", n, {b: (u * e, u)}))
        for share in (0.2, 0.5, 0.8):
            designs.append((f"mix{share}-N{n:.0e}", n, {"high": (share * 2e9, UNIQUE["high"]),
                                                      "low": ((1 - share) * 2e9, UNIQUE["low"])}))
    rows = []
    for name, n, pools in designs:
        loss = true_loss(law, utility, r_d, n, pools) * math.exp(rng.normal(0, NOISE))
        rows.append({"name": name, "params": n, "loss": loss,
                     "buckets": {b: {"tokens": t, "unique_tokens": u} for b, (t, u) in pools.items()}})
    return rows


# ---------------------------------------------------------------- reading runs


def test_runs_from_jsonl_and_parquet_agree(tmp_path: Path) -> None:
    mixture = mixture_rows(DATABLATIONS, np.random.default_rng(0))
    rows = single_pool_rows(DATABLATIONS, np.random.default_rng(0))[:5] + [mixture[0], mixture[4], mixture[-1]]
    jsonl = tmp_path / "runs.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    single, mixed = rows[:5], rows[5:]
    pq.write_table(pa.Table.from_pylist(single), tmp_path / "single.parquet")
    a, b = read_runs(jsonl), read_runs(tmp_path / "single.parquet")
    assert len(a) == 8 and a.pools == ("", "high", "low", "mid")
    assert np.array_equal(a.params[:5], b.params) and np.array_equal(a.loss[:5], b.loss)
    assert a.tokens[5, a.pools.index(next(iter(mixed[0]["buckets"])))] == next(iter(mixed[0]["buckets"].values()))["tokens"]
    assert a.fingerprint() == read_runs(jsonl).fingerprint() != b.fingerprint()


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"params": 1e8, "tokens": 1e9, "unique_tokens": 1e9}, "row 1: column 'loss' must be a number"),
        ({"params": -1, "tokens": 1e9, "unique_tokens": 1e9, "loss": 3.0}, "row 1: column 'params' must be a finite number > 0"),
        ({"params": 1e8, "buckets": {"high": {"tokens": 1e9}}, "loss": 3.0}, "row 1: column 'buckets.high.unique_tokens'"),
        ({"params": 1e8, "tokens": 1e9, "unique_tokens": 1e9, "buckets": {}, "loss": 3.0}, "row 1: give either"),
    ],
)
def test_bad_runs_name_file_row_and_column(tmp_path: Path, row: dict, match: str) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps({"params": 1e8, "tokens": 1e9, "unique_tokens": 1e9, "loss": 3.0}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError, match=match) as info:
        read_runs(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- recovery and coverage


def test_repetition_fit_recovers_r_d_and_r_n() -> None:
    truth = replace(DATABLATIONS, r_d=10.0, r_n=4.0)
    cal = calibrate(runs_from_rows(single_pool_rows(truth, np.random.default_rng(7))), "repetition", bootstrap=60)
    iv = cal.intervals
    assert cal.fit.free == ("r_d_star", "r_n_star")
    for key, true in (("r_d_star", 10.0), ("r_n_star", 4.0)):
        assert iv[key][0] <= true <= iv[key][1]
        assert cal.fit.values[key] == pytest.approx(true, rel=0.1)
    assert cal.r2() > 0.99


def _coverage(make_rows, fit: str, truth: dict[str, float], reference: str | None = None) -> dict[str, float]:
    hits: dict[str, list[bool]] = {k: [] for k in truth}
    for rep in range(50):
        runs = runs_from_rows(make_rows(np.random.default_rng(1000 + rep)))
        iv = calibrate(runs, fit, reference=reference, bootstrap=40, seed=rep, profile=False).intervals
        for k, v in truth.items():
            hits[k].append(iv[k][0] <= v <= iv[k][1])
    return {k: float(np.mean(v)) for k, v in hits.items()}


@pytest.mark.slow
def test_single_pool_intervals_cover_the_truth() -> None:
    truth = replace(DATABLATIONS, r_d=10.0, r_n=4.0)
    cover = _coverage(lambda rng: single_pool_rows(truth, rng), "repetition", {"r_d_star": 10.0, "r_n_star": 4.0})
    assert all(c >= 0.85 for c in cover.values()), cover


@pytest.mark.slow
def test_mixture_intervals_cover_the_truth() -> None:
    truth = {"utility:mid": 0.8, "utility:low": 0.5, **{f"r_d_star:{b}": r for b, r in BUCKET_TRUTH["r_d"].items()}}
    cover = _coverage(lambda rng: mixture_rows(DATABLATIONS, rng), "buckets", truth, reference="high")
    assert all(c >= 0.85 for c in cover.values()), cover


def test_base_fit_uses_only_single_epoch_runs_and_recovers_the_law() -> None:
    rng = np.random.default_rng(3)
    rows = [{"name": f"N{n:.0e}-D{d:.0e}", "params": n, "tokens": d, "unique_tokens": d,
             "loss": true_loss(DATABLATIONS, {}, {}, n, {"": (d, d)}) * math.exp(rng.normal(0, NOISE))}
            for n in (1e7, 3e7, 1e8, 3e8, 1e9) for d in (1e9, 3e9, 1e10, 3e10)]
    rows.append({"name": "repeated", "params": 1e8, "tokens": 4e9, "unique_tokens": 1e9, "loss": 9.9})  # would wreck it
    cal = calibrate(runs_from_rows(rows), "base", base="chinchilla", bootstrap=40)
    assert not cal.fitted[-1] and cal.fitted[:-1].all()
    iv = cal.intervals
    for key in ("E", "alpha", "beta"):
        true = getattr(DATABLATIONS, key)
        assert iv[key][0] <= true <= iv[key][1], (key, iv[key], true)
    assert cal.fit.values["E"] == pytest.approx(DATABLATIONS.E, rel=0.05)


def test_tied_exponents() -> None:
    truth = DATABLATIONS
    rng = np.random.default_rng(4)
    rows = [{"params": n, "tokens": d, "unique_tokens": d,
             "loss": true_loss(truth, {}, {}, n, {"": (d, d)}) * math.exp(rng.normal(0, NOISE))}
            for n in (1e7, 1e8, 1e9) for d in (1e9, 1e10, 1e11)]
    cal = calibrate(runs_from_rows(rows), "base", tie_exponents=True, bootstrap=10)
    assert cal.fit.values["alpha"] == cal.fit.values["beta"] and "beta" not in cal.fit.free
    assert cal.fit.values["alpha"] == pytest.approx(truth.alpha, abs=0.03)


# ---------------------------------------------------------------- validation


def test_holdout_largest_compute_and_named() -> None:
    runs = runs_from_rows(mixture_rows(DATABLATIONS, np.random.default_rng(5)))
    cal = calibrate(runs, "buckets", reference="high", bootstrap=5, holdout=3)
    top3 = set(np.argsort(-runs.compute)[:3])
    assert set(np.flatnonzero(cal.held_out)) == top3 and not cal.fitted[list(top3)].any()
    mae = cal.holdout_mae()
    assert mae == pytest.approx(float(np.mean(np.abs(runs.loss - cal.predicted)[list(top3)])))
    assert 0 < mae < 0.05  # a well-specified law predicts unseen runs to noise level
    named = calibrate(runs, "buckets", reference="high", bootstrap=0, holdout=[runs.names[0]])
    assert named.held_out.sum() == 1 and named.held_out[0]
    with pytest.raises(ConfigError, match="not among the runs"):
        calibrate(runs, "buckets", reference="high", bootstrap=0, holdout=["nope"])


def test_misspecified_law_is_flagged_by_the_holdout_error() -> None:
    """Runs whose buckets repeat differently, fitted with one shared R_D* (and the reverse fit)."""
    runs = runs_from_rows(mixture_rows(DATABLATIONS, np.random.default_rng(6),
                                       r_d={"high": 2.0, "mid": 12.0, "low": 60.0}))
    held = [n for n in runs.names if n.endswith("16ep")]  # extrapolation in epochs
    right = calibrate(runs, "buckets", reference="high", bootstrap=0, holdout=held)
    # Shared R_D*: the utilities are fixed at their true values and only the shared constant fits.
    with_truth = replace(DATABLATIONS)
    from curate.planner.lawfile import CalibratedLaw

    shared = CalibratedLaw(law=with_truth, utility=BUCKET_TRUTH["utility"])
    wrong = calibrate(runs, "repetition", base=shared, bootstrap=0, holdout=held)
    assert wrong.holdout_mae() > 5 * right.holdout_mae()
    assert wrong.r2() < right.r2()


# ---------------------------------------------------------------- law.json and plans


@pytest.fixture(scope="module")
def law_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = runs_from_rows(mixture_rows(DATABLATIONS, np.random.default_rng(8)))
    definition = {"score_column": "quality_score", "method": "thresholds", "names": ["high", "mid", "low"],
                  "quantiles": None, "cuts": [0.7, 0.3], "classifier_sha256": None}
    path = tmp_path_factory.mktemp("law") / "law.json"
    api_calibrate(runs, output=path, fit="buckets", reference="high", bootstrap=30, bucket_definition=definition)
    return path


def test_law_json_schema(law_path: Path) -> None:
    doc = json.loads(law_path.read_text())
    for key in ("base", "r_d_star", "r_n_star", "buckets", "intervals", "bootstrap", "fit", "range",
                "runs_fingerprint", "bucket_definition", "residuals"):
        assert key in doc, key
    assert set(doc["base"]) == {"E", "A", "B", "alpha", "beta"}
    assert doc["buckets"]["high"]["utility"] == 1.0 and "utility" not in doc["buckets"]["high"]["intervals"]
    assert set(doc["buckets"]["low"]["intervals"]) == {"utility", "r_d_star"}
    assert len(doc["bootstrap"]["values"]["utility:low"]) == doc["bootstrap"]["draws"] == 30
    assert doc["fit"]["r2"] > 0.99 and doc["runs_fingerprint"].startswith("sha256:")
    assert doc["range"]["buckets"]["high"]["epochs"] == [0.5, 16.0]
    law = read_law(law_path)
    assert law.utility["low"] == doc["buckets"]["low"]["utility"] and len(law.draws) == 30


def test_plan_with_a_calibrated_law_uses_its_buckets_and_shows_ranges(law_path: Path) -> None:
    law = read_law(law_path)
    buckets = [Bucket("high", 1e9, 7.0), Bucket("mid", 3e9, 7.0), Bucket("low", 1e10, 7.0)]  # utilities replaced
    p = plan(buckets, 1e20, law=str(law_path))
    assert [b.utility for b in p.buckets] == [1.0, law.utility["mid"], law.utility["low"]]
    for b in p.buckets:
        lo, hi = b.epochs_range
        assert lo <= hi
    assert p.extra["ranges"]["draws"] == 30
    # The point plan is the plan under the law's values; each draw's plan under its own values.
    direct = plan([replace(b, utility=law.utility[b.name], r_d=law.r_d[b.name]) for b in buckets], 1e20,
                  law=law.law, max_epochs=math.inf, ranges=False)
    assert max(b.epochs for b in p.buckets) < p.max_epochs  # p's default cap (from the law's runs) did not bind
    assert [b.epochs for b in p.buckets] == pytest.approx([b.epochs for b in direct.buckets], rel=1e-12)
    with pytest.raises(ConfigError, match="no bucket 'other'"):
        plan([Bucket("other", 1e9)], 1e20, law=law)


def test_plan_refuses_buckets_defined_differently(law_path: Path) -> None:
    doc = {"score_column": "quality_score", "method": "thresholds", "cuts": [0.7, 0.3],
           "buckets": [{"name": n, "unique_tokens": 1e9} for n in ("high", "mid", "low")]}
    buckets, _ = buckets_for_law(doc, str(law_path), "buckets.json")
    assert [b.name for b in buckets] == ["high", "mid", "low"]
    with pytest.raises(ConfigError, match="cuts is"):
        buckets_for_law({**doc, "cuts": [0.8, 0.3]}, str(law_path), "buckets.json")
    with pytest.raises(ConfigError, match="score_column"):
        buckets_for_law({**doc, "score_column": "other"}, str(law_path), "buckets.json")


def _d_eff(U: np.ndarray, w: np.ndarray, r_d: np.ndarray, tokens: np.ndarray) -> float:
    return float((w * effective_tokens(tokens, U, r_d)).sum())


@pytest.mark.parametrize("seed", range(6))
def test_per_bucket_r_d_waterfilling_matches_a_numeric_optimiser(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 4
    U = rng.lognormal(np.log(1e9), 1.0, k)
    w = rng.uniform(0.2, 3.0, k)
    r_d = rng.uniform(1.0, 40.0, k)
    total = float(U.sum() * rng.uniform(0.5, 20.0))
    tokens, lam = allocate(U, w, total, r_d=r_d)
    assert tokens.sum() == pytest.approx(total, rel=1e-12)
    # The closed form per bucket: D_i = U_i (1 + R_D,i ln(w_i / lambda)) where repeated.
    rep = tokens > U * (1 + 1e-9)
    assert tokens[rep] == pytest.approx(U[rep] * (1 + r_d[rep] * np.log(w[rep] / lam)), rel=1e-9)
    scale = total

    def neg(x: np.ndarray) -> float:
        return -_d_eff(U, w, r_d, x * scale) / scale

    best = math.inf
    for x0 in (U / U.sum(), np.full(k, 1.0 / k), tokens / scale):
        res = minimize(neg, x0, method="SLSQP", bounds=[(0, 1)] * k,
                       constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0}], options={"ftol": 1e-15, "maxiter": 1000})
        x = np.clip(res.x, 0, None)
        best = min(best, neg(x / x.sum()))
    ours = -_d_eff(U, w, r_d, tokens) / scale
    assert ours <= best + 1e-9


def test_per_bucket_r_d_changes_the_plan() -> None:
    buckets = [Bucket("fast", 1e9, 1.0, r_d=2.0), Bucket("slow", 1e9, 1.0, r_d=40.0)]
    p = plan(buckets, 1e21)
    fast, slow = p.bucket("fast"), p.bucket("slow")
    assert slow.epochs > fast.epochs > 1  # same utility; the slower-decaying bucket repeats more
    assert fast.marginal_value == pytest.approx(slow.marginal_value, rel=1e-9)  # both at lambda


# ---------------------------------------------------------------- limits


def test_saturation_reports_useful_compute() -> None:
    """Saturation is computed on the point plan, before (and independently of) the epochs ranges
    (plans.plan), so the plans here skip the bootstrap replanning (ranges=False)."""
    tiny = [Bucket("high", 4.3e6, 2.0), Bucket("medium", 4.3e6, 1.0), Bucket("low", 4.4e6, 0.5)]  # 13M tokens
    p = plan(tiny, 1e21, ranges=False)
    sat = p.extra["saturation"]
    assert sat["saturated"] and sat["threshold"] == 0.01 and sat["doubling_gain"] < 0.01
    useful = sat["useful_compute"]
    assert useful < 1e21
    gain = doubling_gain(lambda c: plan(tiny, c, max_epochs=p.max_epochs, ranges=False).predicted_loss, useful,
                         DATABLATIONS.E)
    assert gain == pytest.approx(0.01, rel=1e-3)  # a doubling at useful_compute buys exactly the threshold
    assert any("compute is saturated" in w and "useful_compute" in w for w in p.warnings)
    calm = plan([Bucket("a", 1e11, 1.0)], 1e20, ranges=False)
    assert calm.extra["saturation"]["saturated"] is False and calm.extra["saturation"]["useful_compute"] is None
    assert not any("saturated" in w for w in calm.warnings)


def test_flat_ridge_takes_the_smallest_tied_n() -> None:
    """The N tie-break belongs to the point plan (plans.plan decides it before the epochs ranges),
    so the plans here skip the bootstrap replanning (ranges=False)."""
    tiny = [Bucket("high", 4.3e6, 2.0), Bucket("medium", 4.3e6, 1.0), Bucket("low", 4.4e6, 0.5)]
    p = plan(tiny, 1e21, max_epochs=math.inf, ranges=False)  # uncapped: N is arbitrary over a flat ridge
    tie = p.extra["n_tie_break"]
    assert tie is not None and tie["tolerance"] == TIE_TOLERANCE
    assert p.params < 0.99 * tie["argmin_params"]
    at_argmin = plan(tiny, 1e21, params=tie["argmin_params"], max_epochs=math.inf, ranges=False).predicted_loss
    assert p.predicted_loss <= at_argmin * (1 + 2 * TIE_TOLERANCE)
    smaller = plan(tiny, 1e21, params=p.params * 0.98, max_epochs=math.inf, ranges=False).predicted_loss
    assert smaller > at_argmin * (1 + TIE_TOLERANCE)  # any smaller N is no longer a tie
    assert any("tie-break" in w for w in p.warnings)
    normal = plan([Bucket("high", 1e9, 2.0), Bucket("low", 2e10, 0.5)], 1e20, ranges=False)
    assert normal.extra["n_tie_break"] is None


def test_fit_range_warnings() -> None:
    big = [Bucket("a", 1e12, 1.0)]
    inside = plan(big, 6 * 1e9 * 2e10, law="chinchilla")
    assert inside.extra["fit_range"]["params"] == [7e7, 1.6e10]
    assert not any("outside the range" in w for w in inside.warnings)
    small = plan(big, 6 * 1e5 * 2e6, params=1e5, law="chinchilla")  # 100K parameters: far below 70M
    assert any("N (params) = 1e+05 is outside the range law 'chinchilla'" in w for w in small.warnings)
    assert any("D (tokens)" in w for w in small.warnings)


def test_fit_range_per_bucket_epochs(law_path: Path) -> None:
    buckets = [Bucket("high", 2e8), Bucket("mid", 5e8), Bucket("low", 1e9)]
    p = plan(buckets, 6 * 1e8 * 4e10, params=1e8, law=law_path, max_epochs=math.inf, ranges=False)  # 40B on 1.7B unique
    assert any("epochs, beyond the 16 its calibration runs reached" in w for w in p.warnings)


# ---------------------------------------------------------------- CLI


def test_calibrate_and_plan_verbs(tmp_path: Path) -> None:
    runs = tmp_path / "runs.jsonl"
    runs.write_text("\n".join(json.dumps(r) for r in mixture_rows(DATABLATIONS, np.random.default_rng(9))) + "\n")
    buckets = tmp_path / "buckets.json"
    buckets.write_text(json.dumps({"score_column": "quality_score", "method": "thresholds", "cuts": [0.7, 0.3],
                                   "buckets": [{"name": n, "unique_tokens": 1e9} for n in ("high", "mid", "low")]}))
    classifier = tmp_path / "quality.bin"
    classifier.write_bytes(b"model bytes")
    law, png = tmp_path / "law.json", tmp_path / "residuals.png"
    r = curate("calibrate", str(runs), "--fit", "buckets", "--reference", "high", "--bootstrap", "20", "--holdout", "2",
               "--buckets", str(buckets), "--classifier", str(classifier), "--output", str(law), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert "utility:low" in r.stdout and "95% interval" in r.stdout and "held out: 2 runs" in r.stdout
    assert png.read_bytes().startswith(b"\x89PNG")
    doc = json.loads(law.read_text())
    assert doc["bucket_definition"]["classifier_sha256"].startswith("sha256:")
    assert doc["fit"]["holdout"]["mae"] > 0 and len(doc["fit"]["holdout"]["runs"]) == 2
    r = curate("plan", "--buckets", str(buckets), "--law", str(law), "--compute", "1e20", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert all(len(b["epochs_range"]) == 2 for b in out["buckets"]) and out["ranges"]["draws"] == 20
    assert out["law"] == str(law)
    table = curate("plan", "--buckets", str(buckets), "--law", str(law), "--compute", "1e20")
    assert "epochs range" in table.stdout
    bad = curate("plan", "--buckets", str(buckets), "--law", str(tmp_path / "missing.json"), "--compute", "1e20")
    assert bad.returncode == 2 and "missing.json" in bad.stderr
    no_ref = curate("calibrate", str(runs), "--fit", "buckets", "--output", str(law))
    assert no_ref.returncode == 2 and "reference bucket" in no_ref.stderr


def test_sample_stage_plans_with_a_calibrated_law(law_path: Path, tmp_path: Path) -> None:
    """quality_buckets (defined as the law's buckets were) then sample with `law: law.json`."""
    from curate import schema
    from curate.api import Pipeline

    rng = np.random.default_rng(0)
    n = 600
    tokens = rng.integers(50, 400, n)
    table = pa.table({schema.ID: [f"d{i}" for i in range(n)], schema.TEXT: [f"doc {i}" for i in range(n)],
                      schema.N_TOKENS: tokens, schema.QUALITY_SCORE: rng.random(n)})
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "shard-0.parquet")
    buckets_stage = ("quality_buckets", {"names": ["high", "mid", "low"], "thresholds": [0.7, 0.3]})
    Pipeline.from_stages([buckets_stage, ("sample", {"compute": 1e12, "law": str(law_path)})]).run(
        tmp_path / "in", tmp_path / "out", workers=1)
    doc = json.loads((tmp_path / "out" / layout.META / "sample" / "plan.json").read_text())
    law = read_law(law_path)
    assert doc["law"] == str(law_path)
    assert [b["utility"] for b in doc["buckets"]] == [1.0, law.utility["mid"], law.utility["low"]]
    assert all(b["epochs_range"] for b in doc["buckets"])
    other = ("quality_buckets", {"names": ["high", "mid", "low"], "thresholds": [0.8, 0.3]})
    with pytest.raises(ConfigError, match="bucket definition differs"):
        Pipeline.from_stages([other, ("sample", {"compute": 1e12, "law": str(law_path)})]).run(
            tmp_path / "in", tmp_path / "out2", workers=1)
    with pytest.raises(ConfigError, match="unknown law"):
        Pipeline.from_stages([buckets_stage, ("sample", {"compute": 1e12, "law": "kaplan"})]).run(
            tmp_path / "in", tmp_path / "out3", workers=1)


# ---------------------------------------------------------------- QQT comparison


def qqt_reference(n: float, unique: float, b: float, tau: float, d: float, scale: float) -> float:
    """QQT for one pool as Goyal et al.'s objective.py computes it (issue 29's statement of it):
    y = ((min(n, U)/s)^-b + d) * prod_{k=1..floor(n/U)} (min(n, (k+1)U) / (kU))^(-b 0.5^(k/tau))."""
    y = (min(n, unique) / scale) ** -b + d
    for k in range(1, int(n // unique) + 1):
        y *= (min(n, (k + 1) * unique) / (k * unique)) ** (-b * 0.5 ** (k / tau))
    return y


QQT_TRUTH = {"high": (2e8, 0.5, 2.0), "low": (1e9, 0.3, 8.0)}  # unique tokens, b, tau


def _one_size_rows(loss_of, rng: np.random.Generator) -> list[dict]:
    rows = []
    for name, (u, _, _) in QQT_TRUTH.items():
        for e in (0.25, 0.5, 1, 2, 4, 8, 16, 32):
            rows.append({"name": f"{name}-{e}ep", "params": 1e8, "loss": loss_of(name, u, e) * math.exp(rng.normal(0, NOISE)),
                         "buckets": {name: {"tokens": u * e, "unique_tokens": u}}})
    return rows


def test_qqt_and_ours_each_flag_the_other_by_held_out_error() -> None:
    rng = np.random.default_rng(11)
    held = [f"{b}-{e}ep" for b in QQT_TRUTH for e in (16, 32)]  # extrapolation in epochs

    def from_qqt(name: str, u: float, e: float) -> float:
        _, b, tau = QQT_TRUTH[name]
        return qqt_reference(u * e, u, b, tau, 1.8, 1e7)

    def from_ours(name: str, u: float, e: float) -> float:
        return true_loss(DATABLATIONS, {"high": 1.0, "low": 0.5}, {"high": 4.0, "low": 15.0}, 1e8, {name: (u * e, u)})

    qqt_world = calibrate(runs_from_rows(_one_size_rows(from_qqt, rng)), "qqt", reference="high", bootstrap=0,
                          holdout=held).qqt
    assert qqt_world["better_on_holdout"] == "qqt"
    assert qqt_world["ours_holdout_mae"] > 5 * qqt_world["holdout_mae"]
    ours_world = calibrate(runs_from_rows(_one_size_rows(from_ours, rng)), "qqt", reference="high", bootstrap=0,
                           holdout=held)
    q = ours_world.qqt
    assert q["better_on_holdout"] == "ours" and q["holdout_mae"] > 1.5 * q["ours_holdout_mae"]  # 1.9-6.3x over seeds 0-7
    assert ours_world.to_dict()["qqt_comparison"]["values"] == q["values"]


def test_qqt_needs_one_model_size_and_stands_alone() -> None:
    runs = runs_from_rows(mixture_rows(DATABLATIONS, np.random.default_rng(0)))  # two model sizes
    with pytest.raises(ConfigError, match="one model size"):
        calibrate(runs, "qqt", reference="high", bootstrap=0)
    with pytest.raises(ConfigError, match="on its own"):
        calibrate(runs, ["qqt", "buckets"], reference="high", bootstrap=0)
