"""Profile-likelihood intervals for fitted constants, and the test for a poorly determined one.

The fit minimises F = sum_r w_r rho(e_r), rho the Huber loss of the log-loss residuals. Read as a
negative log-likelihood with a free scale c (density exp(-rho(e)/c) / Z(c)), a rho homogeneous of
degree p gives Z(c) proportional to c^(1/p), and maximising over c leaves the profile deviance

    dev(theta_j) = (2 n / p) ln(F_j(theta_j) / F_min),

F_j the objective minimised over the other constants with theta_j fixed (Venzon and Moolgavkar
1988, "A method for computing profile-likelihood-based confidence intervals"). p = 2 is least
squares (dev = n ln(RSS ratio)) and p = 1 least absolute deviations; Huber is between the two, and
p is taken at the optimum as sum w r rho'(r) / sum w rho(r) (exactly the degree for either piece).
The interval at `level` is where dev <= the chi-square quantile with one degree of freedom (Wilks).

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


def huber_degree(residuals: np.ndarray, weights: np.ndarray, delta: float) -> float:
    """p = sum w r rho'(r) / sum w rho(r) for the Huber loss: 2 inside +-delta, 1 far outside."""
    a = np.abs(residuals)
    rho = np.where(a <= delta, 0.5 * a**2, delta * (a - 0.5 * delta))
    r_drho = np.where(a <= delta, a**2, delta * a)
    total = float((weights * rho).sum())
    return float((weights * r_drho).sum()) / total if total > 0 else 2.0


def deviance_limit(f_min: float, n: float, degree: float, level: float) -> float:
    """The objective value at which the profile deviance reaches the chi-square(1) quantile."""
    return f_min * math.exp(degree * float(chi2.ppf(level, 1)) / (2.0 * n))


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

