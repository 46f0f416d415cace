"""The best training proportions under a mixture law, within each domain's tokens.

Minimise the law's predicted target loss over shares x (x_j >= 0, sum x_j = 1) of a run of D
tokens, where domain j has U_j unique tokens and may be read at most ``max_epochs`` times:
x_j D <= max_epochs U_j. Tokens read beyond the first epoch are worth less: the law is evaluated
at the effective shares r_j = D'_j / sum_k D'_k, with D'_j = D'(x_j D, U_j; R_D*) the
repetition-discounted tokens of Muennighoff et al. 2023, eq. 5 (:func:`curate.planner.laws.effective_tokens`).
The law itself was fitted on proxy runs that repeated nothing, so it only ever sees shares that sum
to 1; the tokens lost to repetition (D - sum D') are reported for the planner's repetition law.

- ``exponential`` (and ``linear``, whose minimum is a vertex or edge of the capped simplex):
  scipy's SLSQP with the law's analytic gradient, from several starts (the natural distribution,
  the uniform mixture, every vertex, seeded random mixtures, each projected onto the capped
  simplex); without repetition the exponential target is convex in r, so this is its minimum.
- ``gbm``: RegMix's search (regression.ipynb, "Simulate"): ``CANDIDATES`` mixtures drawn from a
  Dirichlet with the natural distribution as concentration, those breaking a cap dropped, the
  average of the ``TOP_K`` with the lowest predicted loss. The average of feasible mixtures is
  feasible (the caps are a convex set). ``search="topk"`` runs it for any law.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from curate.errors import ConfigError, InfeasibleError
from curate.planner.laws import R_D_STAR, effective_tokens, repeat_value
from curate.planner.mixture.law import MixtureLaw

CANDIDATES = 100_000  # regression.ipynb: np.random.dirichlet(prior_dist * 1, 100000)
TOP_K = 128  # regression.ipynb: k = 128
RANDOM_STARTS = 8


@dataclass(frozen=True)
class MixturePlan:
    """Shares, tokens, epochs and effective tokens per domain, the predicted loss and warnings."""

    domains: tuple[str, ...]
    shares: np.ndarray
    effective_shares: np.ndarray
    tokens: float | None
    unique_tokens: np.ndarray | None
    effective_tokens: np.ndarray | None
    predicted_loss: float
    method: str
    loss_range: list[float] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        per = {}
        for j, d in enumerate(self.domains):
            entry: dict[str, Any] = {"share": float(self.shares[j]), "effective_share": float(self.effective_shares[j])}
            if self.tokens is not None:
                entry["tokens"] = float(self.shares[j] * self.tokens)
            if self.unique_tokens is not None and self.effective_tokens is not None:
                u = float(self.unique_tokens[j])
                entry |= {"unique_tokens": u, "epochs": entry["tokens"] / u if u > 0 else 0.0,
                          "effective_tokens": float(self.effective_tokens[j])}
            per[d] = entry
        return {"domains": per, "tokens": self.tokens, "predicted_loss": self.predicted_loss,
                "loss_range": self.loss_range, "method": self.method, "warnings": list(self.warnings)}


def project_capped_simplex(v: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """The point of {0 <= x <= cap, sum x = 1} nearest to `v` (Euclidean): x = clip(v - tau, 0, cap)
    with tau found by bisection (sum is decreasing in tau). Requires sum(cap) >= 1."""
    lo, hi = float(v.min() - 1.0), float(v.max())
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.clip(v - mid, 0, cap).sum() > 1:
            lo = mid
        else:
            hi = mid
    x = np.clip(v - (lo + hi) / 2, 0, cap)
    return x / x.sum()


def optimize_mixture(law: MixtureLaw, tokens: float | None = None, unique_tokens: Mapping[str, float] | None = None,
                     max_epochs: float | None = None, r_d_star: float | Mapping[str, float] = R_D_STAR,
                     natural: Mapping[str, float] | None = None, search: str | None = None, seed: int = 0,
                     candidates: int = CANDIDATES, top_k: int = TOP_K) -> MixturePlan:
    """The shares of the law's domains minimising its target loss for a run of `tokens` tokens
    drawing on `unique_tokens` per domain at most `max_epochs` times (no caps or repetition
    without `unique_tokens`). `search`: ``slsqp`` or ``topk`` (default: by the law's model)."""
    domains = law.domains
    m = len(domains)
    search = search or ("topk" if law.model.kind == "gbm" else "slsqp")
    if search not in ("slsqp", "topk"):
        raise ConfigError(f"unknown search {search!r} (slsqp or topk)")
    if unique_tokens is not None:
        if tokens is None or not tokens > 0:
            raise ConfigError("planning with unique tokens per domain needs the run's token count (> 0)")
        missing = [d for d in domains if d not in unique_tokens]
        if missing:
            raise ConfigError(f"no unique tokens given for domain(s) {', '.join(missing)} of law '{law.name}'")
        U = np.array([float(unique_tokens[d]) for d in domains])
        rd = np.array([float(r_d_star[d]) if isinstance(r_d_star, Mapping) else float(r_d_star) for d in domains])
        cap = np.minimum(1.0, max_epochs * U / tokens) if max_epochs is not None else np.where(U > 0, 1.0, 0.0)
    else:
        U = rd = None
        cap = np.ones(m)
    if cap.sum() < 1 - 1e-12:
        raise InfeasibleError(f"the domains cannot supply {tokens:.4g} tokens within {max_epochs:g} epochs "
                              f"(at most {float(cap.sum()) * tokens:.4g})")
    prior = np.array([float((natural or {}).get(d, 0.0)) for d in domains])
    if not prior.sum() > 0:
        prior = U.copy() if U is not None and U.sum() > 0 else np.ones(m)
    prior = prior / prior.sum()

    def effective(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Effective shares r (rows of x) and D' per domain."""
        if U is None:
            return x, None
        d_eff = effective_tokens(x * tokens, U, rd)
        total = d_eff.sum(axis=-1, keepdims=True)
        return np.divide(d_eff, total, out=np.full_like(d_eff, 1.0 / m), where=total > 0), d_eff

    warnings: list[str] = []
    if search == "slsqp":
        x = _slsqp(law, effective, cap, prior, U, rd, tokens, seed)
        method = "SLSQP (scipy.optimize) with the law's gradient, best of several starts"
    else:
        x, note = _top_k(law, effective, cap, prior, seed, candidates, top_k)
        method = f"RegMix top-k: mean of the {top_k} best of {candidates} Dirichlet candidates within the caps"
        warnings += note
    r, d_eff = effective(x)
    predicted = float(law.predict(r)[0])
    warnings += law.outside(r[None, :], ["the planned mixture"])
    loss_range = None
    if law.draws:
        at = [float(d.predict(r[None, :])[0]) for d in law.draws]
        loss_range = [float(np.percentile(at, 2.5)), float(np.percentile(at, 97.5))]
    return MixturePlan(domains, x, r, tokens, U, d_eff, predicted, method, loss_range, warnings)


def _slsqp(law: MixtureLaw, effective: Any, cap: np.ndarray, prior: np.ndarray, U: np.ndarray | None,
           rd: np.ndarray | None, tokens: float | None, seed: int) -> np.ndarray:
    m = len(cap)
    model = law.model
    if not hasattr(model, "gradient"):
        raise ConfigError(f"a {model.kind} law has no gradient; use search 'topk'")

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        r, d_eff = effective(x)
        value = float(law.predict(r)[0])
        g = model.gradient(r[None, :])[0]  # d loss / d r
        if d_eff is None:
            return value, g
        # r_j = E_j / S with E_j = D'(x_j D): d r_j / d x_l = E'_l (delta_jl - r_j) / S
        e_prime = tokens * repeat_value(x * tokens, U, rd)
        return value, e_prime * (g - g @ r) / d_eff.sum()

    rng = np.random.default_rng(seed)
    raw = [prior, np.full(m, 1.0 / m), *np.eye(m), *rng.dirichlet(np.ones(m), RANDOM_STARTS)]
    starts = {tuple(np.round(project_capped_simplex(v, cap), 12)) for v in raw}
    cons = [{"type": "eq", "fun": lambda x: x.sum() - 1.0, "jac": lambda x: np.ones_like(x)}]
    bounds = list(zip(np.zeros(m), cap))
    best_x, best_f = None, np.inf
    for x0 in sorted(starts):
        res = minimize(f, np.array(x0), jac=True, method="SLSQP", bounds=bounds, constraints=cons,
                       options={"maxiter": 1000, "ftol": 1e-15})
        x = project_capped_simplex(np.asarray(res.x), cap)
        value = f(x)[0]
        if value < best_f:
            best_x, best_f = x, value
    assert best_x is not None
    return best_x


def _top_k(law: MixtureLaw, effective: Any, cap: np.ndarray, prior: np.ndarray, seed: int, candidates: int,
           top_k: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    alpha = np.maximum(prior, 1e-12)
    pool = rng.dirichlet(alpha, candidates)
    pool = pool[(pool <= cap + 1e-12).all(axis=1)]
    if not len(pool):
        raise InfeasibleError(f"none of {candidates} candidate mixtures keeps within every domain's cap; raise "
                              "the epochs allowed or give more unique tokens")
    notes = []
    if len(pool) < top_k:
        notes.append(f"only {len(pool)} of {candidates} candidate mixtures keep within the caps; averaged them all")
    loss = law.predict(effective(pool)[0])
    best = pool[np.argsort(loss, kind="stable")[:top_k]]
    return best.mean(axis=0), notes
