"""What a domain's tokens are worth: its quality buckets water-filled, as a function of its share.

A domain j given D_j training tokens spreads them over its quality buckets as the budget planner
spreads a run's tokens (:func:`curate.planner.budget.allocate`: maximise sum_q w_q D'(D_q, U_q;
R_D,q) under the epoch cap, Muennighoff et al. 2023, eq. 5 for D'). Its *effective tokens*
E_j(D_j) are that maximum. By the envelope theorem dE_j/dD_j is the water-filling threshold
lambda_j(D_j), and ln lambda is piecewise linear in D_j: constant while a bucket's first epoch
enters (at lambda = w_q), linear while buckets repeat (D_q = U_q (1 + R_D,q ln(w_q / lambda))),
with knots where a bucket enters or reaches its cap. So E_j(D_j) = integral of lambda is exact in
closed form on every piece (``exp`` of a linear function), for one mixture or 100,000 at once.

The mixture planner (:mod:`curate.planner.mixture.optimize`) evaluates the law at the effective
shares E_j / sum_k E_k and charges the tokens lost to repetition against the loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curate.errors import ConfigError
from curate.planner.budget import allocate
from curate.planner.laws import R_D_STAR


@dataclass(frozen=True)
class DomainSupply:
    """One domain's quality buckets (unique tokens, utility, R_D* per bucket) under an epoch cap,
    and the knots of its effective-tokens curve (tokens, ln lambda, effective tokens)."""

    name: str
    buckets: tuple[str, ...]
    unique: np.ndarray
    utility: np.ndarray
    r_d: np.ndarray
    max_epochs: float | None
    knots_d: np.ndarray
    knots_t: np.ndarray
    knots_e: np.ndarray
    tail: float  # dD / d(-ln lambda) past the last knot: the buckets still repeating without a cap

    @classmethod
    def build(cls, name: str, buckets: Sequence[str], unique: Sequence[float], utility: Sequence[float] | None = None,
              r_d: Sequence[float] | float | None = None, max_epochs: float | None = None) -> DomainSupply:
        """The supply of a domain's buckets; `utility` defaults to 1, `r_d` to the datablations R_D*."""
        U = np.asarray(unique, dtype=np.float64)
        w = np.ones_like(U) if utility is None else np.asarray(utility, dtype=np.float64)
        rd = np.broadcast_to(np.asarray(R_D_STAR if r_d is None else r_d, dtype=np.float64), U.shape).copy()
        if not (np.isfinite(U).all() and (U >= 0).all() and np.isfinite(w).all() and (w >= 0).all()
                and np.isfinite(rd).all() and (rd > 0).all()):
            raise ConfigError(f"domain '{name}': unique tokens and utilities must be finite and >= 0, R_D* > 0")
        if max_epochs is not None and not max_epochs > 0:
            raise ConfigError(f"domain '{name}': max_epochs must be > 0, got {max_epochs}")
        knots_d, knots_t, knots_e, tail = _knots(U, w, rd, max_epochs)
        return cls(name, tuple(buckets), U, w, rd, max_epochs, knots_d, knots_t, knots_e, tail)

    @property
    def unique_tokens(self) -> float:
        return float(self.unique.sum())

    @property
    def capacity(self) -> float:
        """The most tokens the domain can supply: max_epochs x its unique tokens (inf without a cap)."""
        if self.max_epochs is None or math.isinf(self.max_epochs):
            return math.inf if self.unique_tokens > 0 else 0.0
        return float(self.max_epochs * self.unique_tokens)

    def _log_lambda(self, tokens: np.ndarray) -> np.ndarray:
        """ln lambda at every token count (-inf past the valued capacity)."""
        D = np.asarray(tokens, dtype=np.float64)
        if self.knots_d.size == 0:
            return np.full(D.shape, -np.inf)
        t = np.interp(D, self.knots_d, self.knots_t)
        past = D > self.knots_d[-1]
        if self.tail > 0:
            t = np.where(past, self.knots_t[-1] - (D - self.knots_d[-1]) / self.tail, t)
        else:
            t = np.where(past, -np.inf, t)
        return t

    def marginal(self, tokens: np.ndarray | float) -> np.ndarray:
        """dE/dD: the value of the domain's next token (its water-filling threshold lambda)."""
        return np.exp(self._log_lambda(np.asarray(tokens, dtype=np.float64)))

    def effective(self, tokens: np.ndarray | float) -> np.ndarray:
        """E(D) = max sum_q w_q D'(D_q, U_q) over the buckets' shares of D tokens (exact)."""
        D = np.asarray(tokens, dtype=np.float64)
        if self.knots_d.size == 0:
            return np.zeros(D.shape)
        last = self.knots_d.size - 1
        k = np.clip(np.searchsorted(self.knots_d, D, side="right") - 1, 0, last)
        d0, t0, e0 = self.knots_d[k], self.knots_t[k], self.knots_e[k]
        t = self._log_lambda(D)
        step = np.maximum(D - d0, 0.0)
        # on a piece ln lambda = t0 + kappa (D - d0): integral of lambda = e^t0 expm1(kappa step) / kappa
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            kappa = np.where(step > 0, (t - t0) / np.where(step > 0, step, 1.0), 0.0)
            piece = np.where(np.abs(kappa * step) > 1e-12, np.exp(t0) * np.expm1(kappa * step) / kappa,
                             np.exp(t0) * step)
        piece = np.where(np.isneginf(t) & (k == last), 0.0, piece)  # past the valued capacity: nothing more
        if self.tail > 0:
            beyond = D > self.knots_d[-1]
            piece = np.where(beyond, self.tail * (np.exp(self.knots_t[-1]) - np.exp(t)), piece)
        return e0 + piece

    def allocate(self, tokens: float) -> np.ndarray:
        """Tokens per bucket for `tokens` of this domain (the budget planner's water-filling)."""
        if tokens <= 0 or self.unique_tokens <= 0:
            return np.zeros_like(self.unique)
        cap = None if self.max_epochs is None or math.isinf(self.max_epochs) else self.max_epochs
        return allocate(self.unique, self.utility, min(tokens, self.capacity), cap, self.r_d)[0]


def _knots(U: np.ndarray, w: np.ndarray, rd: np.ndarray,
           max_epochs: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(tokens, ln lambda, effective tokens) at every knot of the valued buckets, and the tail slope."""
    valued = (U > 0) & (w > 0)
    if not valued.any():
        return np.zeros(0), np.zeros(0), np.zeros(0), 0.0
    U, w, rd = U[valued], w[valued], rd[valued]
    cap = np.full(U.shape, np.inf) if max_epochs is None or math.isinf(max_epochs) else U * float(max_epochs)
    first = np.minimum(U, cap)
    room = np.maximum(cap - U, 0.0)
    slope = U * rd  # dD_q / d(-ln lambda) while repeating
    enter = np.log(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(room > 0, enter - room / slope, enter)  # ln lambda at which a bucket reaches its cap
    events = np.unique(np.concatenate([enter, full[np.isfinite(full)]]))[::-1]  # descending

    def supply(t: float, with_entering: bool) -> float:
        entered = enter > t
        repeats = np.where(entered & (room > 0), np.minimum(slope * (enter - t), room), 0.0)
        total = float((first * entered).sum() + repeats.sum())
        if with_entering:
            total += float(first[enter == t].sum())
        return total

    ds, ts = [], []
    for t in events:
        ds += [supply(t, False), supply(t, True)]
        ts += [t, t]
    knots_d, knots_t = np.array(ds), np.array(ts)
    keep = np.concatenate([[True], (np.diff(knots_d) > 0) | (np.diff(knots_t) != 0)])
    knots_d, knots_t = knots_d[keep], knots_t[keep]
    # effective tokens at the knots: the integral of lambda piece by piece
    dd, t0, t1 = np.diff(knots_d), knots_t[:-1], knots_t[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(t1 == t0, np.exp(t0) * dd, (np.exp(t1) - np.exp(t0)) * dd / (t1 - t0))
    inc = np.where(dd > 0, inc, 0.0)
    knots_e = np.concatenate([[0.0], np.cumsum(inc)])
    tail = float(slope[np.isinf(room)].sum())
    return knots_d, knots_t, knots_e, tail
