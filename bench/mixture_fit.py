"""Coverage of the mixture laws' bootstrap intervals on planted runs, with more replicates than the
test (tests/planner/test_mixture_fit.py runs 50): for each constant, the share of seeded replicates whose
95% percentile interval holds the planted value.

    python bench/mixture_fit.py [--replicates 200] [--runs 40] [--bootstrap 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import md_table  # noqa: E402

from curate.planner.mixture import calibrate_mixture, mixture_runs_from_rows  # noqa: E402
from tests.planner.test_mixture_fit import BETA, DOMAINS, PLANTED, planted_rows  # noqa: E402


def coverage(model: str, replicates: int, n_runs: int, bootstrap: int) -> dict[str, float]:
    if model == "exponential":
        p = PLANTED["web_val"]
        truth = {"web_val:c": p["c"], "web_val:k": p["k"], **{f"web_val:t:{d}": float(t) for d, t in zip(DOMAINS, p["t"])}}
    else:
        truth = {f"beta:{d}": float(b) for d, b in zip(DOMAINS, BETA)}
    hits = dict.fromkeys(truth, 0)
    for seed in range(replicates):
        rows = planted_rows(n_runs, seed, noise=0.01 if model == "exponential" else 0.02, law=model)
        cal = calibrate_mixture(mixture_runs_from_rows(rows), "web_val", model=model, bootstrap=bootstrap, seed=seed)
        for k, (lo, hi) in cal.intervals.items():
            hits[k] += lo <= truth[k] <= hi
    return {k: v / replicates for k, v in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--bootstrap", type=int, default=100)
    args = ap.parse_args()
    rows = []
    for model in ("exponential", "linear"):
        t0 = time.perf_counter()
        cov = coverage(model, args.replicates, args.runs if model == "exponential" else 2 * args.runs, args.bootstrap)
        rows += [[model, k, f"{v:.1%}"] for k, v in cov.items()]
        print(f"{model}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"### mixture-law interval coverage ({args.replicates} replicates, {args.bootstrap} bootstrap draws, "
          f"nominal 95%)\n")
    print(md_table(["model", "constant", "coverage"], rows))
    print(f"\nlowest: {min(float(r[2].rstrip('%')) for r in rows):.1f}% (the test asks >= 85% of 50)")


if __name__ == "__main__":
    main()
