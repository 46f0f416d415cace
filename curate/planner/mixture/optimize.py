"""The best training proportions under a mixture law, within each domain's tokens.

Minimise the law's predicted target loss over shares x (x_j >= 0, sum x_j = 1) of a run of D
tokens. Domain j supplies at most ``max_epochs`` times its unique tokens (x_j D <= cap), and the
tokens it is given are spread over its quality buckets by the budget planner's water-filling
(:class:`curate.planner.mixture.supply.DomainSupply`), whose effective tokens E_j(x_j D) discount
repeats by D' (Muennighoff et al. 2023, eq. 5; one bucket per domain without buckets). The law,
fitted on proxy runs that repeated nothing, is evaluated at the effective shares
r_j = E_j / sum_k E_k. With a :class:`RepetitionCharge` the tokens lost to repetition also cost
loss: the repetition law's data term at the effective tokens against the tokens read,
B / (sum_k E_k)^beta - B / D^beta (Muennighoff et al. 2023, eq. 7's data term).

- ``slsqp`` (the exponential law's, and the linear law's by default here): scipy's SLSQP with
  the analytic gradient (dE_j/dD_j is the domain's water-filling threshold lambda_j), from the
  natural distribution, the uniform mixture, every vertex and seeded random mixtures, each
  projected onto the capped simplex; the best wins.
- ``topk`` (RegMix's search, regression.ipynb, "Simulate"): ``CANDIDATES`` mixtures drawn from a
  Dirichlet with the natural distribution as concentration, those breaking a cap dropped, the
  average of the ``TOP_K`` with the lowest predicted loss. The average of feasible mixtures is
  feasible (the caps are a convex set). Seeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import minimize

from curate.errors import ConfigError, InfeasibleError
from curate.planner.laws import R_D_STAR
from curate.planner.mixture.law import MixtureLaw, Model
from curate.planner.mixture.supply import DomainSupply

CANDIDATES = 100_000  # regression.ipynb: np.random.dirichlet(prior_dist * 1, 100000)
TOP_K = 128  # regression.ipynb: k = 128
RANDOM_STARTS = 8
SEARCHES = ("slsqp", "topk")


@dataclass(frozen=True)
class RepetitionCharge:
    """Loss charged for tokens lost to repetition: B / S^beta - B / D^beta, with S the effective
    tokens and D the tokens read (the data term of a repetition law, e.g. datablations')."""

    B: float
    beta: float
    tokens: float

    def value(self, effective: np.ndarray) -> np.ndarray:
        S = np.maximum(np.asarray(effective, dtype=np.float64), 1e-300)
        return self.B * (S ** -self.beta - self.tokens ** -self.beta)

    def derivative(self, effective: np.ndarray) -> np.ndarray:
        S = np.maximum(np.asarray(effective, dtype=np.float64), 1e-300)
        return -self.beta * self.B * S ** (-self.beta - 1)


@dataclass(frozen=True)
class MixtureObjective:
    """The predicted loss of domain shares: `model` at the effective shares, plus the charge."""

    model: Model
    supplies: tuple[DomainSupply, ...] | None = None
    tokens: float | None = None
    charge: RepetitionCharge | None = None

    def effective(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Effective shares r (rows of X) and effective tokens per domain (None without supplies)."""
        X = np.atleast_2d(X)
        if self.supplies is None:
            return X, None
        E = np.column_stack([s.effective(X[:, j] * self.tokens) for j, s in enumerate(self.supplies)])
        total = E.sum(axis=1, keepdims=True)
        r = np.divide(E, total, out=np.full_like(E, 1.0 / E.shape[1]), where=total > 0)
        return r, E

    def parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the law's loss at the effective shares, the repetition charge) per row of X."""
        r, E = self.effective(X)
        charge = self.charge.value(E.sum(axis=1)) if self.charge is not None and E is not None else np.zeros(len(r))
        return self.model.predict(r), charge

    def __call__(self, X: np.ndarray) -> np.ndarray:
        law_loss, charge = self.parts(X)
        return law_loss + charge

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        if not hasattr(self.model, "gradient"):
            raise ConfigError(f"a {self.model.kind} law has no gradient; use search 'topk'")
        r, E = self.effective(x)
        value = float(self.model.predict(r)[0])
        g = self.model.gradient(r)[0]  # d loss / d r
        if E is None:
            return value, g
        # r_j = E_j / S: d r_j / d x_l = D lambda_l (delta_jl - r_j) / S
        lam = np.array([s.marginal(x[j] * self.tokens) for j, s in enumerate(self.supplies)])
        S = float(E.sum())
        grad = self.tokens * lam * (g - g @ r[0]) / S
        if self.charge is not None:
            value += float(self.charge.value(S))
            grad = grad + self.tokens * lam * float(self.charge.derivative(S))
        return value, grad


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
    law_loss: float | None = None
    repetition_charge: float = 0.0

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
                "law_loss": self.predicted_loss if self.law_loss is None else self.law_loss,
                "repetition_charge": self.repetition_charge, "loss_range": self.loss_range,
                "method": self.method, "warnings": list(self.warnings)}


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


def single_bucket_supplies(domains: Sequence[str], unique_tokens: Mapping[str, float],
                           r_d_star: float | Mapping[str, float], max_epochs: float | None) -> tuple[DomainSupply, ...]:
    """One bucket per domain (its unique tokens, utility 1, its R_D*)."""
    missing = [d for d in domains if d not in unique_tokens]
    if missing:
        raise ConfigError(f"no unique tokens given for domain(s) {', '.join(missing)}")
    return tuple(DomainSupply.build(d, (d,), [float(unique_tokens[d])], None,
                                    float(r_d_star[d]) if isinstance(r_d_star, Mapping) else float(r_d_star), max_epochs)
                 for d in domains)


def optimize_mixture(law: MixtureLaw, tokens: float | None = None, unique_tokens: Mapping[str, float] | None = None,
                     max_epochs: float | None = None, r_d_star: float | Mapping[str, float] = R_D_STAR,
                     natural: Mapping[str, float] | None = None, search: str | None = None, seed: int = 0,
                     candidates: int = CANDIDATES, top_k: int = TOP_K, supplies: Sequence[DomainSupply] | None = None,
                     charge: RepetitionCharge | None = None) -> MixturePlan:
    """The shares of the law's domains minimising its target loss for a run of `tokens` tokens
    drawing on `unique_tokens` per domain (or on the quality buckets of `supplies`, one per
    domain in the law's order) at most `max_epochs` times; without either, no caps or repetition.
    `charge` adds the loss of tokens lost to repetition. `search`: ``slsqp`` or ``topk``
    (default: ``topk`` for a gbm law, else ``slsqp``)."""
    search = search or ("topk" if law.model.kind == "gbm" else "slsqp")
    if search not in SEARCHES:
        raise ConfigError(f"unknown search {search!r} (slsqp or topk)")
    if supplies is None and unique_tokens is not None:
        supplies = single_bucket_supplies(law.domains, unique_tokens, r_d_star, max_epochs)
    if supplies is not None and (tokens is None or not tokens > 0):
        raise ConfigError("planning with unique tokens per domain needs the run's token count (> 0)")
    objective = MixtureObjective(law.model, None if supplies is None else tuple(supplies), tokens, charge)
    cap = shares_cap(objective)
    prior = natural_prior(law.domains, natural, objective)
    x, notes, method = search_shares(objective, cap, prior, search, seed, candidates, top_k)
    return evaluate(law, objective, x, method, notes)


def shares_cap(objective: MixtureObjective) -> np.ndarray:
    """The largest share each domain can supply (1 without supplies); InfeasibleError when the
    domains cannot supply the run together."""
    if objective.supplies is None:
        return np.ones(len(objective.model.domains))
    D = float(objective.tokens)
    cap = np.array([min(1.0, s.capacity / D) for s in objective.supplies])
    if cap.sum() < 1 - 1e-12:
        raise InfeasibleError(f"the domains cannot supply {D:.4g} tokens within their epoch caps "
                              f"(at most {float(cap.sum()) * D:.4g})")
    return cap


def natural_prior(domains: Sequence[str], natural: Mapping[str, float] | None, objective: MixtureObjective) -> np.ndarray:
    """The natural distribution (given, else the unique tokens per domain, else uniform), summing to 1."""
    prior = np.array([float((natural or {}).get(d, 0.0)) for d in domains])
    if not prior.sum() > 0 and objective.supplies is not None:
        prior = np.array([s.unique_tokens for s in objective.supplies])
    if not prior.sum() > 0:
        prior = np.ones(len(domains))
    return prior / prior.sum()


def search_shares(objective: MixtureObjective, cap: np.ndarray, prior: np.ndarray, search: str, seed: int,
                  candidates: int = CANDIDATES, top_k: int = TOP_K) -> tuple[np.ndarray, list[str], str]:
    """(shares, notes, a description of the method) by SLSQP from several starts or RegMix's top-k."""
    if search == "slsqp":
        rng = np.random.default_rng(seed)
        m = len(cap)
        raw = [prior, np.full(m, 1.0 / m), *np.eye(m), *rng.dirichlet(np.ones(m), RANDOM_STARTS)]
        starts = sorted({tuple(np.round(project_capped_simplex(v, cap), 12)) for v in raw})
        x = _tidy(slsqp(objective, cap, [np.array(s) for s in starts]))
        return x, [], "SLSQP (scipy.optimize) with the law's gradient, best of several starts"
    pool = CandidatePool.draw(objective, cap, prior, seed, candidates)
    x = pool.best(objective.model, top_k)
    notes = []
    if len(pool.shares) < top_k:
        notes.append(f"only {len(pool.shares)} of {candidates} candidate mixtures keep within the caps; averaged them all")
    return x, notes, f"RegMix top-k: mean of the {top_k} best of {candidates} Dirichlet candidates within the caps"


def slsqp(objective: MixtureObjective, cap: np.ndarray, starts: Sequence[np.ndarray]) -> np.ndarray:
    """The best of SLSQP runs from `starts` (each result projected back onto the capped simplex)."""
    m = len(cap)

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        return objective.value_and_gradient(x)

    cons = [{"type": "eq", "fun": lambda x: x.sum() - 1.0, "jac": lambda x: np.ones_like(x)}]
    bounds = list(zip(np.zeros(m), cap))
    best_x, best_f = None, np.inf
    for x0 in starts:
        res = minimize(f, np.asarray(x0, dtype=np.float64), jac=True, method="SLSQP", bounds=bounds,
                       constraints=cons, options={"maxiter": 1000, "ftol": 1e-15})
        x = project_capped_simplex(np.asarray(res.x), cap)
        value = f(x)[0]
        if value < best_f:
            best_x, best_f = x, value
    assert best_x is not None
    return best_x


def _tidy(x: np.ndarray) -> np.ndarray:
    """Shares below 1e-12 (SLSQP's rounding at a bound) set to 0, the rest renormalised."""
    x = np.where(x < 1e-12, 0.0, x)
    return x / x.sum()


@dataclass(frozen=True)
class CandidatePool:
    """RegMix's candidate mixtures within the caps, with their effective shares and charge (computed
    once, so that every bootstrap draw of a law ranks the same candidates)."""

    shares: np.ndarray
    effective_shares: np.ndarray
    charge: np.ndarray

    @classmethod
    def draw(cls, objective: MixtureObjective, cap: np.ndarray, prior: np.ndarray, seed: int,
             candidates: int) -> CandidatePool:
        rng = np.random.default_rng(seed)
        pool = rng.dirichlet(np.maximum(prior, 1e-12), candidates)
        pool = pool[(pool <= cap + 1e-12).all(axis=1)]
        if not len(pool):
            raise InfeasibleError(f"none of {candidates} candidate mixtures keeps within every domain's cap; raise "
                                  "the epochs allowed or give more unique tokens")
        r, E = objective.effective(pool)
        charge = (objective.charge.value(E.sum(axis=1)) if objective.charge is not None and E is not None
                  else np.zeros(len(pool)))
        return cls(pool, r, charge)

    def best(self, model: Model, top_k: int = TOP_K) -> np.ndarray:
        """The mean of the `top_k` candidates with the lowest loss under `model`."""
        loss = model.predict(self.effective_shares) + self.charge
        return self.shares[np.argsort(loss, kind="stable")[:top_k]].mean(axis=0)


def evaluate(law: MixtureLaw, objective: MixtureObjective, x: np.ndarray, method: str,
             notes: Sequence[str] = ()) -> MixturePlan:
    """The plan at shares `x`: effective shares and tokens, the loss and its parts, the loss range
    over the law's bootstrap draws, and warnings for shares outside those the law was fitted on."""
    r, E = objective.effective(x)
    law_loss, charge = (float(v[0]) for v in objective.parts(x))
    warnings = list(notes) + law.outside(r, ["the planned mixture"])
    loss_range = None
    if law.draws:
        at = [float(replace(objective, model=d)(x)[0]) for d in law.draws]
        loss_range = [float(np.percentile(at, 2.5)), float(np.percentile(at, 97.5))]
    unique = None if objective.supplies is None else np.array([s.unique_tokens for s in objective.supplies])
    return MixturePlan(law.domains, x, r[0], objective.tokens, unique, None if E is None else E[0], law_loss + charge,
                       method, loss_range, warnings, law_loss, charge)
