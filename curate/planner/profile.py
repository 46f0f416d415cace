"""Profile-likelihood intervals for fitted constants, and the test for a poorly determined one.

The fit minimises Q = sum_r w_r rho(e_r), rho the Huber loss (delta 1e-3) of the log-loss
residuals: an M-estimator, not a likelihood, so Wilks' theorem is applied to it in the form of the
drop-in-dispersion test (Schrader and Hettmansperger 1980, "Robust analysis of variance based upon
a likelihood ratio criterion", Biometrika 67(1); after Huber 1981, "Robust Statistics", ch. 7):

    2 (Q_j(theta_j) - Q_min) / kappa  ~  chi-square(1),   kappa = sum w psi(e)^2 / sum w psi'(e),

Q_j the objective minimised over the other constants with theta_j fixed, psi = rho' (the residual
clipped to +-delta), psi' = 1 inside +-delta; kappa is taken at the optimum. The interval at
`level` is where that statistic stays under the chi-square quantile (Venzon and Moolgavkar 1988,
"A method for computing profile-likelihood-based confidence intervals", for the search). With
least squares (all residuals inside delta) kappa is the residual variance and this is the usual
profile likelihood.

A constant is poorly determined when an interval (profile or bootstrap) touches the search bound or
spans more than ``SPAN_LIMIT`` (hi / lo): the runs do not pin it down, and plans that hang on it
should show its range (issue 29).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2

SPAN_LIMIT = 10.0  # an interval wider than 10x (hi / lo) says little
_FIRST_STEP = 0.05  # in the fitted coordinate (ln of a positive constant): 5%
_ROOT_XTOL = 1e-4


@dataclass(frozen=True)
class ProfileInterval:
    """[lo, hi] in natural units; which ends stopped at the search bound."""

    lo: float
    hi: float
    lo_at_bound: bool
    hi_at_bound: bool


def huber_dispersion(residuals: np.ndarray, weights: np.ndarray, delta: float) -> float:
    """kappa = sum w psi^2 / sum w psi' for the Huber loss (psi: the residual clipped to +-delta).

    When no residual lies inside +-delta (psi' = 0 everywhere: the least-absolute-deviation limit)
    the denominator is taken as the weight of one run, which widens the interval rather than
    dividing by zero."""
    psi = np.clip(residuals, -delta, delta)
    inside = float((weights * (np.abs(residuals) <= delta)).sum())
    return float((weights * psi**2).sum()) / max(inside, float(weights.min()))


def drop_limit(q_min: float, kappa: float, level: float) -> float:
    """The summed objective Q at which the drop-in-dispersion statistic reaches the chi-square(1) quantile."""
    return q_min + 0.5 * kappa * float(chi2.ppf(level, 1))


def profile_interval(profile: Callable[[float], float], x_hat: float, limit: float, bound: tuple[float, float]) -> tuple[float, float, bool, bool]:
    """The set {t: profile(t) <= limit} around x_hat, in the fitted coordinate, searched outwards in
    doubling steps up to `bound`; returns (lo, hi, lo_at_bound, hi_at_bound)."""
    seen: dict[float, float] = {}

    def at(t: float) -> float:  # each point once: a profile by continuation depends on its path
        if t not in seen:
            seen[t] = profile(t)
        return seen[t]

    at(x_hat)
    ends = []
    for direction, edge in ((-1.0, bound[0]), (1.0, bound[1])):
        inside, step = x_hat, _FIRST_STEP
        while True:
            t = x_hat + direction * step
            if (t - edge) * direction >= 0:  # past the bound: check the bound itself
                if at(edge) <= limit:
                    ends.append((edge, True))
                    break
                t = edge
            if at(t) > limit:
                a, b = sorted((inside, t))
                root = brentq(lambda s: at(s) - limit, a, b, xtol=_ROOT_XTOL)
                ends.append((root, False))
                break
            inside, step = t, 2 * step
    (lo, lo_bound), (hi, hi_bound) = ends
    return lo, hi, lo_bound, hi_bound


def poorly_determined(name: str, interval: Sequence[float], bound: tuple[float, float], kind: str, linear: bool) -> str | None:
    """Why the `kind` interval ("profile" or "bootstrap") of `name` says little, or None."""
    lo, hi = float(interval[0]), float(interval[1])
    touches = [b for b in bound if math.isclose(lo, b, rel_tol=1e-6) or math.isclose(hi, b, rel_tol=1e-6)]
    if touches:
        return f"{name}: its {kind} interval [{lo:.4g}, {hi:.4g}] reaches the search bound {touches[0]:.4g}"
    if not linear and lo > 0 and hi / lo > SPAN_LIMIT:
        return f"{name}: its {kind} interval [{lo:.4g}, {hi:.4g}] spans {hi / lo:.3g}x (more than {SPAN_LIMIT:g}x)"
    return None

