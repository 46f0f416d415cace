"""Benchmark: the budget planner (exact water-filling + N search) against scipy's SLSQP, and the
calibration (curate calibrate: fits with bootstrap) and plans with ranges from a calibrated law.

For each frontier budget C the planner picks N; the allocation problem at that point is
"maximise D_eff = sum_i w_i D'_i subject to sum_i D_i = C/(6N), 0 <= D_i". Both solvers get the
same problems. SLSQP's dense quadratic subproblem costs O(n^3) per iteration and it needs hundreds
of iterations, so it is run to convergence on the first n buckets of the same generated set
(n = 10, 30, 100), and on the 1,000-bucket problems only for a few capped iterations, to show
its per-iteration cost.

Then the mixture laws (issue 28) on RegMix's 512 real proxy runs over 17 domains
(bench/data/regmix): the time to fit each model kind, point fit and default options, and to plan
domains and quality together (`curate plan --law mixture.json`: 17 domains x 3 quality buckets, two
phases, ranges over the law's bootstrap draws) (wall and CPU seconds, one core: one BLAS and one
LightGBM thread).

    python bench/planner.py --scale small|full
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, md_table, scale_arg  # noqa: E402
from mixture_outside import DATA as REGMIX_DATA  # noqa: E402
from mixture_outside import load as load_regmix  # noqa: E402

from curate.planner import (  # noqa: E402
    DATABLATIONS,
    Bucket,
    allocate,
    calibrate,
    effective_tokens,
    frontier,
    log_space,
    plan,
)
from curate.planner.calibration import predict_log_loss  # noqa: E402
from curate.planner.lawfile import CalibratedLaw, law_values  # noqa: E402
from curate.planner.laws import R_D_STAR  # noqa: E402
from curate.planner.runs import runs_from_rows  # noqa: E402

OBJ_RTOL = 1e-9


def make_buckets(n: int, seed: int = 0) -> list[Bucket]:
    """n buckets: unique tokens log-normal around 5e8, utilities uniform in [0.1, 3]."""
    rng = np.random.default_rng(seed)
    U = rng.lognormal(np.log(5e8), 1.5, n)
    w = rng.uniform(0.1, 3.0, n)
    return [Bucket(f"b{i:04d}", float(U[i]), float(w[i])) for i in range(n)]


def problems(buckets: list[Bucket], computes: list[float]) -> tuple[float, list[float]]:
    """Plan the frontier; return its time and the token budget D = C/(6N) of each point."""
    t0 = time.perf_counter()
    plans = frontier(buckets, computes, max_epochs=math.inf)  # uncapped, as the SLSQP problems below
    return time.perf_counter() - t0, [p.tokens for p in plans]


def d_eff(U: np.ndarray, w: np.ndarray, tokens: np.ndarray) -> float:
    return float((w * effective_tokens(tokens, U)).sum())


def slsqp(U: np.ndarray, w: np.ndarray, total: float, maxiter: int = 5000) -> tuple[np.ndarray, bool, int]:
    """SLSQP on the same problem, in epochs x_i = D_i / U_i, with the analytic gradient."""
    from scipy.optimize import minimize

    def f(x: np.ndarray) -> float:
        return -d_eff(U, w, x * U) / total

    def grad(x: np.ndarray) -> np.ndarray:
        value = np.where(x < 1, 1.0, np.exp(-np.maximum(x - 1, 0) / R_D_STAR))
        return -(w * value) * U / total

    cons = [{"type": "eq", "fun": lambda x: float((x * U).sum() / total - 1), "jac": lambda x: U / total}]
    x0 = np.full(U.shape, total / U.sum())
    res = minimize(f, x0, jac=grad, method="SLSQP", bounds=[(0.0, total / u) for u in U], constraints=cons,
                   options={"maxiter": maxiter, "ftol": 1e-15})
    x = np.clip(res.x, 0, None)
    x *= total / float((x * U).sum())  # put SLSQP's answer exactly on the constraint before comparing
    return x * U, bool(res.success), int(res.nit)


def compare(buckets: list[Bucket], budgets: list[float], maxiter: int = 5000) -> dict[str, float]:
    """Solve every allocation problem with both solvers; objectives and times."""
    U = np.array([b.unique_tokens for b in buckets])
    w = np.array([b.utility for b in buckets])
    ours_t = slsqp_t = 0.0
    worst = np.inf  # min over problems of (ours - slsqp) / slsqp
    converged = iters = 0
    for total in budgets:
        ours_t += best_of(lambda total=total: allocate(U, w, total), repeat=3)
        tokens, _ = allocate(U, w, total)
        t0 = time.perf_counter()
        theirs, ok, nit = slsqp(U, w, total, maxiter)
        slsqp_t += time.perf_counter() - t0
        converged += ok
        iters += nit
        a, b = d_eff(U, w, tokens), d_eff(U, w, theirs)
        worst = min(worst, (a - b) / b)
    return {"ours": ours_t, "slsqp": slsqp_t, "worst": worst, "converged": converged, "iters": iters}


def proxy_runs(n_runs: int, mixture: bool, seed: int = 0):  # noqa: ANN201 - Runs
    """`n_runs` generated proxy runs (0.3% log-normal noise on the loss): single-pool runs from a law with
    R_D* = 10, R_N* = 4, or per-bucket runs and mixtures of three buckets (utility 1/0.8/0.5, R_D* 6/12/20)."""
    rng = np.random.default_rng(seed)
    values = law_values(DATABLATIONS) | ({} if mixture else {"r_d_star": 10.0, "r_n_star": 4.0})
    unique = {"high": 2e8, "mid": 5e8, "low": 1e9}
    if mixture:
        values |= {"utility:high": 1.0, "utility:mid": 0.8, "utility:low": 0.5,
                   "r_d_star:high": 6.0, "r_d_star:mid": 12.0, "r_d_star:low": 20.0}
    rows = []
    for i in range(n_runs):
        n = float(np.exp(rng.uniform(np.log(2e7), np.log(5e8))))
        if mixture:
            share = rng.dirichlet(np.ones(3)) if i % 4 == 0 else np.eye(3)[i % 3]  # mixtures and per-bucket runs
            total = float(np.exp(rng.uniform(np.log(1e8), np.log(3e10))))
            buckets = {b: {"tokens": float(total * s), "unique_tokens": u} for (b, u), s in zip(unique.items(), share) if s > 0}
            rows.append({"params": n, "buckets": buckets, "loss": 1.0})
        else:
            u = float(np.exp(rng.uniform(np.log(1e8), np.log(2e9))))
            rows.append({"params": n, "tokens": u * float(np.exp(rng.uniform(0, np.log(64)))), "unique_tokens": u, "loss": 1.0})
    runs = runs_from_rows(rows)
    loss = np.exp(predict_log_loss(values, runs) + rng.normal(0, 0.003, len(rows)))
    for r, v in zip(rows, loss):
        r["loss"] = float(v)
    return runs_from_rows(rows)


def ranged_law(buckets: list[Bucket], draws: int, seed: int = 0) -> CalibratedLaw:
    """A calibrated law over `buckets` (their utilities, R_D* from 5 to 30) with `draws` bootstrap draws
    (every constant perturbed by 5%, log-normal)."""
    rng = np.random.default_rng(seed)
    utility = {b.name: b.utility for b in buckets}
    r_d = {b.name: float(v) for b, v in zip(buckets, rng.uniform(5, 30, len(buckets)))}
    point = law_values(DATABLATIONS, utility, r_d)
    keys = [k for k in point if k.startswith(("utility:", "r_d_star:"))]
    sample = [{**point, **{k: point[k] * float(f) for k, f in zip(keys, rng.lognormal(0, 0.05, len(keys)))}}
              for _ in range(draws)]
    return CalibratedLaw(law=DATABLATIONS, utility=utility, r_d=r_d, draws=sample)


def calibration_rows(n_plan_buckets: int) -> list[list]:
    rows = []
    for label, mixture, fit, ref in (("repetition (R_D*, R_N*)", False, "repetition", None),
                                     ("buckets (2 utilities, 3 R_D*)", True, "buckets", "high")):
        runs = proxy_runs(200, mixture)
        t0 = time.perf_counter()
        cal = calibrate(runs, fit, reference=ref, bootstrap=200, seed=0)
        rows.append([f"calibrate: {label}", "200 runs", "200 draws", f"{(time.perf_counter() - t0) * 1e3:,.0f}",
                     f"R^2 {cal.r2():.5f}"])
    buckets = make_buckets(n_plan_buckets)
    law = ranged_law(buckets, 200)
    t0 = time.perf_counter()
    p = plan(buckets, 1e21, law=law)
    widest = max(b.epochs_range[1] - b.epochs_range[0] for b in p.buckets)
    rows.append(["plan with epochs ranges (C = 1e21, N searched per draw)", f"{n_plan_buckets} buckets", "200 draws",
                 f"{(time.perf_counter() - t0) * 1e3:,.0f}", f"widest range {widest:.2f} epochs"])
    three = [Bucket("high", 1e9, 2.0), Bucket("mid", 5e9, 1.0), Bucket("low", 2e10, 0.5)]
    t0 = time.perf_counter()
    p = plan(three, 1e21)  # as `curate plan` makes it: default epoch cap, ranges over the built-in draws
    rows.append(["plan under the built-in law (default cap, ranges)", "3 buckets", f"{p.extra['ranges']['draws']} draws",
                 f"{(time.perf_counter() - t0) * 1e3:,.0f}", f"epochs of high {p.buckets[0].epochs_range}"])
    return rows


def timed(fn):  # noqa: ANN001, ANN201 - (result, wall s, CPU s)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


MIXTURE_PHASES = [{"until": 0.85}, {"until": 1.0, "upsample": {"high": 3}}]


def mixture_rows() -> list[list]:
    """Fit every mixture model on RegMix's 512 runs (target Pile-CC), then plan with each law: a run
    of 25B tokens for a 1B-parameter model over 17 domains x 3 quality buckets (30B unique tokens in
    the mean shares of RegMix's mixtures, split 20/30/50% into high/medium/low; the same buckets as
    docs/mixture_example_buckets.json), at most 4 epochs of any bucket, two phases."""
    from curate.planner.mixture import calibrate_mixture
    from curate.planner.mixture.calibrate import BOOTSTRAP
    from curate.planner.mixture.plan import plan_mixture

    train, _ = load_regmix(REGMIX_DATA)
    share = train.proportions.mean(axis=0)
    share = share / share.sum()
    buckets = {"buckets": [{"name": f"{d}/{q}", "domain": d, "quality": q, "unique_tokens": 30e9 * s * f}
                           for d, s in zip(train.domains, share) for q, f in (("high", 0.2), ("medium", 0.3),
                                                                                ("low", 0.5))]}
    rows = []
    for model, bootstrap in (("exponential", 0), ("exponential", BOOTSTRAP), ("linear", 0), ("linear", BOOTSTRAP),
                             ("gbm", 0)):
        cal, wall, cpu = timed(lambda m=model, b=bootstrap: calibrate_mixture(train, "pile_cc", model=m, bootstrap=b))
        label = "point fit" if bootstrap == 0 else f"defaults ({bootstrap} bootstrap draws)"
        if model == "gbm":
            label = "defaults (no bootstrap for trees)"
        rows.append([f"fit {model}: {label}", f"{wall:.2f}", f"{cpu:.2f}",
                     f"in-sample rho {cal.to_dict()['fit']['in_sample']['spearman']:.4f}"])
        if bootstrap or model == "gbm":
            law = cal.law()
            planned, wall, cpu = timed(lambda law=law: plan_mixture(law, buckets, 6 * 1e9 * 25e9, tokens=25e9,
                                                                    max_epochs=4.0, phases=MIXTURE_PHASES))
            draws = len(law.draws)
            rows.append([f"plan 17 domains x 3 buckets with the {model} law ({planned.extra['search']}"
                         + (f", shares re-optimised under {draws} draws" if draws else "") + ")",
                         f"{wall:.2f}", f"{cpu:.2f}", f"predicted loss {planned.predicted_loss:.4f}"])
    return rows


def main() -> None:
    scale = scale_arg()
    full = scale == "full"
    n_big = 1000 if full else 100
    points = 50 if full else 10
    computes = log_space(1e18, 1e24, points)
    big = make_buckets(n_big)

    plan_s = best_of(lambda: plan(big, 1e21, max_epochs=math.inf, ranges=False), repeat=1 if full else 3)
    frontier_s, budgets = problems(big, computes)
    U = np.array([b.unique_tokens for b in big])
    w = np.array([b.utility for b in big])
    alloc_s = sum(best_of(lambda t=t: allocate(U, w, t), repeat=3) for t in budgets)

    rows_ours = [
        ["plan, N searched (C = 1e21)", n_big, 1, f"{plan_s * 1e3:,.1f}"],
        [f"frontier 1e18..1e24, {points} points", n_big, points, f"{frontier_s * 1e3:,.1f}"],
        ["allocation problems of that frontier (water-filling)", n_big, points, f"{alloc_s * 1e3:,.2f}"],
    ]

    rows_cmp = []
    failures = []
    tiers = [(10, points), (30, points)] + ([(100, 2)] if full else [])  # SLSQP: ~100 s per 100-bucket problem
    for n, k in tiers:
        sub = big[:n]
        _, sub_budgets = problems(sub, computes)
        step = max(1, len(sub_budgets) // k)
        chosen = sub_budgets[::step][:k]
        r = compare(sub, chosen)
        ok = r["worst"] >= -OBJ_RTOL
        if not ok:
            failures.append(f"n={n}: objective {r['worst']:.2e} below SLSQP")
        rows_cmp.append([
            n, len(chosen), f"{r['converged']}/{len(chosen)}", f"{r['iters'] / len(chosen):,.0f}",
            f"{r['ours'] * 1e3:,.2f}", f"{r['slsqp'] * 1e3:,.0f}", f"{r['slsqp'] / r['ours']:,.0f}x",
            f"{r['worst']:+.1e}", "yes" if ok else "NO",
        ])

    capped_iters = 3 if full else 5
    mid = budgets[len(budgets) // 2]
    r = compare(big, [mid], maxiter=capped_iters)
    rows_cmp.append([
        n_big, 1, f"capped at {capped_iters} it.", f"{r['iters']:,}", f"{r['ours'] * 1e3:,.2f}",
        f"{r['slsqp'] * 1e3:,.0f}", f"{r['slsqp'] / r['ours']:,.0f}x", f"{r['worst']:+.1e}",
        "yes" if r["worst"] >= -OBJ_RTOL else "NO",
    ])

    print(f"### planner ({scale})\n")
    print(
        f"Budget planner on {n_big} generated buckets (unique tokens log-normal around 5e8, utilities in "
        f"[0.1, 3]), datablations law, N searched at every budget. Then the allocation problem at each "
        f"frontier point (maximise D_eff for D = C/6N) solved by our exact water-filling and by scipy's "
        f"SLSQP (analytic gradient, ftol 1e-15). SLSQP runs to convergence on the first n buckets; on "
        f"all {n_big} it is stopped after a few iterations (one costs seconds: its QP is dense O(n^3)). "
        f"'objective vs SLSQP' is the worst (ours - SLSQP) / SLSQP over the problems; the bar is "
        f">= -{OBJ_RTOL:g}.\n"
    )
    print(md_table(["task", "buckets", "problems", "our time (ms)"], rows_ours))
    print()
    print(md_table(
        ["buckets", "problems", "SLSQP converged", "SLSQP iterations/problem", "ours (ms)", "SLSQP (ms)", "speed-up",
         "objective vs SLSQP", ">= SLSQP"],
        rows_cmp,
    ))
    print()
    print("Calibration (one process, one BLAS thread): generated proxy runs with 0.3% noise on the loss; "
          "the full fit from a grid of starts, then 200 bootstrap draws warm-started from it. Then one plan "
          "under a calibrated law with per-bucket utility and R_D* and 200 draws (every draw replanned).\n")
    print(md_table(["task", "size", "bootstrap", "time (ms)", "check"], calibration_rows(n_big)))
    print()
    print("Mixture laws on RegMix's 512 proxy runs (17 training domains, target Pile-CC), one core; plans of "
          "25B tokens for a 1B model over 17 domains x 3 quality buckets, 4 epochs at most, two phases (SLSQP for "
          "the exponential law, RegMix's top-128 of 100,000 candidates for the regressors).\n")
    print(md_table(["task", "wall s", "CPU s", "check"], mixture_rows()))
    if failures:
        print("\n**FAILED:** " + "; ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
