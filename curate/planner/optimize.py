"""Global minimisation of a fit objective in flat, multimodal valleys: many starts, a polish, a check.

The datablations objective (Huber loss with delta 1e-3 on log loss) is piecewise: every run whose
residual crosses +-delta adds a kink, and along the valley where R_D* and R_N* trade off against
each other it has several local minima (on datablations' 182 runs: at R_D*, R_N* = 15.4 / 5.3,
47 / 2.3 and 95 / 1.7, each a minimum of L-BFGS-B and of Nelder-Mead). A single local search from
one start stops in whichever it meets first. Hence:

1. score every point of a starting grid in one vectorized call, and run L-BFGS-B (scipy) from the
   best ``starts`` of them (plus any starts given);
2. polish the best result with Nelder-Mead (derivative-free: the kinks do not stall it), then
   L-BFGS-B again;
3. check that no grid point and no local search ended lower than the polished minimum; if one did,
   polish from there (a few rounds at most).

Pure numerics over callables: the objective comes from curate.planner.calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

BatchObjective = Callable[[np.ndarray], np.ndarray]  # (m, d) points -> (m,) values
ValueAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]

LOCAL_OPTIONS = {"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9}  # L-BFGS-B
POLISH_OPTIONS = {"xatol": 1e-9, "fatol": 1e-14, "maxiter": 4000}  # Nelder-Mead
CHECK_TOLERANCE = 1e-12  # relative: a start "does better" only by more than this
_ROUNDS = 3


@dataclass(frozen=True)
class Minimum:
    """Where the search ended, and what the check saw."""

    x: np.ndarray
    fun: float
    converged: bool
    starts: int  # local searches run
    checked: bool  # no grid point or local search ended lower than `fun` (beyond CHECK_TOLERANCE)


def local_minimum(f_and_grad: ValueAndGradient, x0: np.ndarray, bounds: Sequence[tuple[float, float]]) -> tuple[np.ndarray, float, bool]:
    """L-BFGS-B from `x0` (clipped into the bounds): (x, value, converged)."""
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    res = minimize(f_and_grad, np.clip(x0, lo, hi), jac=True, method="L-BFGS-B", bounds=bounds, options=LOCAL_OPTIONS)
    return np.asarray(res.x), float(res.fun), bool(res.success)


def global_minimum(f_batch: BatchObjective, f_and_grad: ValueAndGradient, grid: np.ndarray,
                   bounds: Sequence[tuple[float, float]], starts: int = 6,
                   extra: Sequence[np.ndarray] = (), polish: bool = True) -> Minimum:
    """Minimise over a box from the best `starts` points of `grid` (shape (m, d)) and the `extra` starts.

    With `polish`, L-BFGS-B runs from every start, the best local minimum is refined by Nelder-Mead
    and L-BFGS-B, and checked against every grid value and local result (see the module
    docstring). Without it, L-BFGS-B runs from the `extra` starts and from those grid points that
    score lower than every minimum found so far.
    """
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    grid = np.clip(np.atleast_2d(grid), lo, hi) if len(grid) else np.zeros((0, len(bounds)))
    scores = f_batch(grid) if len(grid) else np.zeros(0)
    chosen = [(float(scores[i]), grid[i]) for i in np.argsort(scores, kind="stable")[:starts]]
    results = [local_minimum(f_and_grad, x0, bounds) for x0 in extra]
    for score, x0 in chosen:
        # Without a polish (a bootstrap draw), a grid point is searched from only when it already
        # beats every local minimum found: the cheap form of the check.
        if polish or not results or score < min(r[1] for r in results):
            results.append(local_minimum(f_and_grad, x0, bounds))
    best_x, best_f, converged = min(results, key=lambda r: r[1])
    lowest = min([best_f, *scores.tolist()])
    if not polish:
        return Minimum(best_x, best_f, converged, len(results), best_f <= _allowed(lowest))
    for _ in range(_ROUNDS):
        best_x, best_f, converged = _polish(f_batch, f_and_grad, best_x, best_f, converged, bounds)
        if best_f <= _allowed(lowest):
            return Minimum(best_x, best_f, converged, len(results), True)
        # a start is lower than the polished minimum: polish from that start instead
        candidates = [(r[1], r[0]) for r in results] + [(float(s), g) for s, g in zip(scores, grid)]
        _, x_low = min(candidates, key=lambda c: c[0])
        best_x, best_f, converged = local_minimum(f_and_grad, x_low, bounds)
    return Minimum(best_x, best_f, converged, len(results), best_f <= _allowed(lowest))


def _allowed(lowest: float) -> float:
    return lowest + CHECK_TOLERANCE * max(abs(lowest), 1e-300)


def _polish(f_batch: BatchObjective, f_and_grad: ValueAndGradient, x: np.ndarray, fx: float, converged: bool,
            bounds: Sequence[tuple[float, float]]) -> tuple[np.ndarray, float, bool]:
    """Nelder-Mead from x, then L-BFGS-B from its result; keeps whichever is lowest."""
    res = minimize(lambda z: float(f_batch(z[None, :])[0]), x, method="Nelder-Mead", bounds=bounds,
                   options=POLISH_OPTIONS)
    best = (x, fx, converged)
    if res.fun < best[1]:
        best = (np.asarray(res.x), float(res.fun), bool(res.success))
    x2, f2, ok2 = local_minimum(f_and_grad, best[0], bounds)
    if f2 < best[1]:
        best = (x2, f2, ok2)
    return best
