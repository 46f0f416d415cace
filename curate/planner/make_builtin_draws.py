"""Regenerate curate/planner/data/builtin_draws.json from the package copy of datablations' runs.

    python -m curate.planner.make_builtin_draws [--draws 200] [--seed 0] [--output FILE]

R_D* and R_N* are refitted on the 182 runs (curate/planner/data/datablations_runs.json) with the
base law fixed at datablations' published constants, as datablations fitted them (Huber, delta
1e-3, on log loss; curate.planner.calibration), by the global search of curate.planner.optimize:
once on all runs, then on every bootstrap resample of the runs (seeded), each draw searched from
the grid afresh (not warm-started: the valley has several minima, and a draw should find its own).
The file also records the full fit, its profile-likelihood intervals and the objective at the
published constants, so that a reader can see why the built-in ranges are wide.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import huber
from threadpoolctl import threadpool_limits

from curate.planner.builtin import DRAWS_FILE, RUNS_FILE, data_file, datablations_runs
from curate.planner.calibration import HUBER_DELTA, fit_values, predict_log_loss, profile_intervals
from curate.planner.lawfile import law_values
from curate.planner.laws import DATABLATIONS
from curate.planner.runs import Runs

FREE = ("r_d_star", "r_n_star")


def summed_huber(values: dict[str, float], runs: Runs) -> float:
    """datablations' objective: Huber(delta 1e-3) of the log-loss residuals, summed over runs."""
    return float(huber(HUBER_DELTA, predict_log_loss(values, runs) - np.log(runs.loss)).sum())


def make_draws(draws: int = 200, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """The draws document (format in curate/planner/data/README.md)."""
    runs = datablations_runs()
    start = law_values(DATABLATIONS)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {k: [] for k in FREE}
    with threadpool_limits(limits=1, user_api="blas"):
        full = fit_values(runs, start, FREE, seed=seed)
        profile, at_bound = profile_intervals(runs, full, False, level)
        for i in range(draws):
            sample = runs.take(rng.integers(0, len(runs), len(runs)))
            d = fit_values(sample, start, FREE, seed=seed)
            for k in FREE:
                values[k].append(d.values[k])
            print(f"draw {i + 1}/{draws}: R_D* {d.values['r_d_star']:.4g}, R_N* {d.values['r_n_star']:.4g}",
                  file=sys.stderr)
    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)
    return {
        "source": "bootstrap refits of R_D* and R_N* on datablations' 182 runs (Muennighoff et al. 2023), "
                  "base law fixed at the published constants",
        "runs": {"file": RUNS_FILE, "count": len(runs),
                 "sha256": hashlib.sha256(data_file(RUNS_FILE).read_bytes()).hexdigest()},
        "method": "curate.planner.calibration.fit_values: Huber(delta=1e-3) on log loss, global search "
                  "(grid to R* = 2000, L-BFGS-B from the best starts, Nelder-Mead polish, check) for the "
                  "full fit and for every draw",
        "seed": seed,
        "draws": draws,
        "level": level,
        "published": {"r_d_star": DATABLATIONS.r_d, "r_n_star": DATABLATIONS.r_n,
                      "summed_huber": summed_huber(start, runs)},
        "fit": {"r_d_star": full.values["r_d_star"], "r_n_star": full.values["r_n_star"],
                "summed_huber": summed_huber(full.values, runs), "starts": full.starts, "checked": full.checked},
        "profile_intervals": profile,
        "profile_at_bound": at_bound,
        "intervals": {k: [float(np.percentile(v, lo_q)), float(np.percentile(v, hi_q))] for k, v in values.items()},
        "values": values,
    }


def main(argv: list[str] | None = None) -> int:
    """Write the draws file (default: the package's own copy)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path(str(data_file(DRAWS_FILE))))
    args = parser.parse_args(argv)
    doc = make_draws(args.draws, args.seed)
    text = json.dumps(doc, indent=1, allow_nan=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    fit = doc["fit"]
    print(f"wrote {args.output}: full fit R_D* {fit['r_d_star']:.4g}, R_N* {fit['r_n_star']:.4g} "
          f"(summed Huber {fit['summed_huber']:.7g}; published {doc['published']['summed_huber']:.7g})",
          file=sys.stderr)
    return 0 if all(math.isfinite(x) for v in doc["values"].values() for x in v) else 1


if __name__ == "__main__":
    raise SystemExit(main())
