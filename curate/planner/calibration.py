"""Fit the planner's constants from proxy runs: repetition, base law, per-bucket utility and R_D*.

The model is the planner's own (``laws.Law`` with ``effective_tokens`` per bucket): for a run
with D_i tokens of U_i unique tokens from pool i at N parameters,

    D_eff = sum_i w_i D'(D_i, U_i; R_D,i),  U_used = sum_i w_i min(D_i, U_i)
    L = E + A / N'(N, U_used)^alpha + B / D_eff^beta

Fitting follows Muennighoff et al. 2023 (datablations, "Parametric Fit"; after Hoffmann et al.
2022, approach 3): Huber loss with delta 1e-3 on log L, the prediction taken as the log-sum-exp
of the three log terms, L-BFGS from a grid of starting points (scipy.optimize). Positive
constants are fitted in log space. Intervals come from a seeded bootstrap over runs, each draw
warm-started from the full fit; ``holdout`` keeps runs out of the fit to measure prediction error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.special import huber
from threadpoolctl import threadpool_limits

from curate.errors import ConfigError
from curate.planner.guard import series_from_runs
from curate.planner.lawfile import LAW_FORMAT, CalibratedLaw, law_kind, law_values, resolve_law
from curate.planner.laws import Law, effective_tokens
from curate.planner.optimize import global_minimum, local_minimum
from curate.planner.profile import drop_limit, huber_dispersion, poorly_determined, profile_interval
from curate.planner.runs import REFERENCE_POOL, Runs

FIT_KINDS = ("repetition", "base", "buckets", "qqt")
HUBER_DELTA = 1e-3  # datablations' fit (Muennighoff et al. 2023, after Hoffmann et al. 2022)
ONE_EPOCH = 1.0 + 1e-9  # base fits use runs of at most one epoch of every pool
_MAX_GRID = 512  # starting points evaluated; the best few start L-BFGS
_STARTS = 6

# Starting values per kind of constant (in natural units), and bounds for the optimiser. The
# repetition constants get a log grid up to 2,000 (issue 29: on datablations' runs the minimum sits
# at R_D* ~ 95, far beyond the published 15.4, in a valley too flat for a local search to cross).
_R_STAR_GRID = tuple(float(x) for x in np.geomspace(0.5, 2000.0, 13))
_GRID: dict[str, tuple[float, ...]] = {
    "E": (1.0, 1.7, 2.5), "A": (math.exp(4), math.exp(6), math.exp(8)), "B": (math.exp(4), math.exp(6), math.exp(8)),
    "alpha": (0.2, 0.35, 0.5), "beta": (0.2, 0.35, 0.5),
    "r_d_star": _R_STAR_GRID, "r_n_star": _R_STAR_GRID, "utility": (0.1, 0.3, 1.0, 3.0, 10.0),
    # QQT (curate.planner.qqt): token scale, floor, utility exponent, half-life in epochs
    "qqt_scale": (1e2, 1e5, 1e8, 1e11), "qqt_d": (0.5, 1.5, 2.5), "qqt_b": (0.1, 0.3, 0.6),
    "qqt_tau": (0.5, 2.0, 8.0, 32.0, 128.0),
}
_BOUNDS: dict[str, tuple[float, float]] = {
    "E": (1e-3, 20.0), "A": (1e-2, 1e15), "B": (1e-2, 1e15), "alpha": (0.01, 2.0), "beta": (0.01, 2.0),
    "r_d_star": (0.05, 1e4), "r_n_star": (0.05, 1e4), "utility": (1e-4, 1e4),
    "qqt_scale": (1.0, 1e15), "qqt_d": (1e-3, 20.0), "qqt_b": (1e-3, 3.0), "qqt_tau": (0.05, 1e4),
}
_LINEAR = ("alpha", "beta")  # fitted as is; everything else in log space


def _kind(name: str) -> str:
    return name.split(":", 1)[0]


@dataclass(frozen=True)
class Fit:
    """One fit: the values (free and fixed), the free names, the objective at the optimum."""

    values: dict[str, float]
    free: tuple[str, ...]
    objective: float
    converged: bool
    starts: int = 1  # local searches run
    checked: bool = True  # no start ended lower than the result


@dataclass
class Calibration:
    """A calibration: the full fit, its bootstrap draws, intervals, validation and the law.json document."""

    fit: Fit
    kinds: tuple[str, ...]
    base: Law | CalibratedLaw
    reference: str | None
    runs: Runs
    fitted: np.ndarray  # bool per run: used in the fit (False: held out, or > 1 epoch for a base fit)
    held_out: np.ndarray  # bool per run
    draws: dict[str, list[float]]
    seed: int
    level: float
    bucket_definition: Mapping[str, Any] | None = None
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    qqt: dict[str, Any] | None = None  # with fit "qqt": QQT fitted on the same runs, and the comparison
    profile: dict[str, list[float]] = field(default_factory=dict)  # profile-likelihood interval per fitted value
    profile_at_bound: dict[str, list[bool]] = field(default_factory=dict)  # which ends stopped at the bound

    @property
    def intervals(self) -> dict[str, list[float]]:
        """Percentile bootstrap interval at `level` for every fitted value."""
        lo, hi = 50 * (1 - self.level), 50 * (1 + self.level)
        return {k: [float(np.percentile(v, lo)), float(np.percentile(v, hi))] for k, v in self.draws.items() if v}

    @property
    def poorly_determined(self) -> dict[str, list[str]]:
        """Per fitted value, why its intervals say little (touching a bound, spanning over 10x); only
        values with a reason are listed."""
        out: dict[str, list[str]] = {}
        boot = self.intervals
        for name in self.fit.free:
            bound = _BOUNDS[_kind(name)]
            linear = _kind(name) in _LINEAR
            reasons = []
            if name in self.profile:
                if any(self.profile_at_bound.get(name, [])):
                    lo, hi = self.profile[name]
                    edge = bound[1] if self.profile_at_bound[name][1] else bound[0]
                    reasons.append(f"{name}: its profile interval [{lo:.4g}, {hi:.4g}] reaches the search bound {edge:.4g}")
                else:
                    reasons.append(poorly_determined(name, self.profile[name], bound, "profile", linear))
            if name in boot:
                reasons.append(poorly_determined(name, boot[name], bound, "bootstrap", linear))
            found = [r for r in reasons if r]
            if found:
                out[name] = found
        return out

    @property
    def residuals(self) -> np.ndarray:
        """Observed minus predicted loss, per run."""
        return self.runs.loss - self.predicted

    def r2(self) -> float:
        """R^2 of the predicted loss on the runs used in the fit."""
        y, r = self.runs.loss[self.fitted], self.residuals[self.fitted]
        ss_tot = float(((y - y.mean()) ** 2).sum())
        return 1.0 - float((r**2).sum()) / ss_tot if ss_tot > 0 else math.nan

    def holdout_mae(self) -> float | None:
        """Mean absolute error of the predicted loss on the held-out runs (None without a holdout)."""
        return float(np.abs(self.residuals[self.held_out]).mean()) if self.held_out.any() else None

    def law(self) -> CalibratedLaw:
        """The calibrated law, as the planner reads it back from law.json."""
        from curate.planner.lawfile import law_from_dict

        return law_from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The law.json document (schema in docs/planner.md, "law.json")."""
        v = self.fit.values
        iv = self.intervals
        base_law = self.base.law if isinstance(self.base, CalibratedLaw) else self.base
        pools = [p for p in self.runs.pools if p != REFERENCE_POOL]
        buckets = {}
        for b in sorted({*pools, *(k.split(":", 1)[1] for k in v if ":" in k)}):
            if f"utility:{b}" not in v:
                continue
            buckets[b] = {
                "utility": v[f"utility:{b}"],
                "r_d_star": v.get(f"r_d_star:{b}"),
                "intervals": {k.split(":", 1)[0]: iv[k] for k in (f"utility:{b}", f"r_d_star:{b}") if k in iv},
            }
        fit_runs = self.runs.take(np.flatnonzero(self.fitted))
        holdout = self.holdout_mae()
        return {
            "format": LAW_FORMAT,
            "kind": law_kind(self.kinds),
            "name": "calibrated",
            "source": f"curate calibrate: fit {'+'.join(self.kinds)} on {int(self.fitted.sum())} runs, base {base_law.name}",
            "base": {k: v[k] for k in ("E", "A", "B", "alpha", "beta")},
            "r_d_star": v["r_d_star"],
            "r_n_star": v.get("r_n_star"),
            "reference_bucket": self.reference,
            "buckets": buckets,
            "fitted": list(self.fit.free),
            "intervals": {"level": self.level, **iv},
            "profile_intervals": {"level": self.level, **self.profile},
            "poorly_determined": self.poorly_determined,
            "bootstrap": {"seed": self.seed, "draws": len(next(iter(self.draws.values()), [])), "values": self.draws},
            "fit": {
                "method": "L-BFGS-B (scipy.optimize) from the best points of a grid of starts, the best polished by "
                          "Nelder-Mead and checked against every start; bootstrap draws from the full fit and the "
                          "grid's best point",
                "loss": f"Huber(delta={HUBER_DELTA}) on log loss, prediction as log-sum-exp of the three terms",
                "kinds": list(self.kinds),
                "base": base_law.name,
                "objective": self.fit.objective,
                "converged": self.fit.converged,
                "starts": self.fit.starts,
                "checked": self.fit.checked,
                "runs": int(self.fitted.sum()),
                "r2": None if math.isnan(self.r2()) else self.r2(),
                "rmse": float(np.sqrt((self.residuals[self.fitted] ** 2).mean())),
                "holdout": {"runs": [n for n, h in zip(self.runs.names, self.held_out) if h], "mae": holdout},
            },
            "residuals": [
                {"name": self.runs.names[r], "loss": float(self.runs.loss[r]), "predicted": float(self.predicted[r]),
                 "residual": float(self.residuals[r]), "held_out": bool(self.held_out[r]), "fitted": bool(self.fitted[r])}
                for r in range(len(self.runs))
            ],
            "range": fit_runs.fit_range(),
            "repetition_series": [s.to_dict() for s in series_from_runs(fit_runs)],
            "runs_fingerprint": self.runs.fingerprint(),
            "bucket_definition": None if self.bucket_definition is None else dict(self.bucket_definition),
            "qqt_comparison": self.qqt,
        }


# ---------------------------------------------------------------------------------------------
# The model


def predict_log_loss(values: Mapping[str, float | np.ndarray], runs: Runs) -> np.ndarray:
    """log of the predicted loss of every run under `values` (the planner's law, per-bucket terms).

    Values may be arrays of shape (m,) (m parameter sets, evaluated together): the result is then
    (m, runs), else (runs,). The D' and N' are the planner's own functions (``laws``).
    """
    batched = any(np.ndim(v) for v in values.values())
    m = max(np.size(v) for v in values.values())

    def col(key: str, default: float | np.ndarray = 1.0) -> np.ndarray:
        v = values.get(key)
        return np.broadcast_to(np.asarray(default if v is None else v, dtype=np.float64).reshape(-1, 1), (m, 1))

    r_d = col("r_d_star")
    law = replace(_TEMPLATE, E=col("E"), A=col("A"), B=col("B"), alpha=col("alpha"), beta=col("beta"), r_d=r_d,
                  r_n=col("r_n_star") if "r_n_star" in values else None)
    ref = [p == REFERENCE_POOL for p in runs.pools]
    w = np.concatenate([np.ones((m, 1)) if is_ref else col(f"utility:{p}") for p, is_ref in zip(runs.pools, ref)],
                       axis=1)[:, None, :]
    rd = np.concatenate([r_d if is_ref else col(f"r_d_star:{p}", r_d) for p, is_ref in zip(runs.pools, ref)],
                        axis=1)[:, None, :]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        d_eff = (w * effective_tokens(runs.tokens, runs.unique, rd)).sum(axis=-1)
        u_used = (w * np.minimum(runs.tokens, runs.unique)).sum(axis=-1)
        n_eff = law.effective_params_array(runs.params, u_used)
        # log-sum-exp of the three log terms (datablations' fit): log E, log A - alpha log N', log B - beta log D'
        terms = np.broadcast_arrays(np.log(law.E), np.log(law.A) - law.alpha * np.log(n_eff),
                                    np.log(law.B) - law.beta * np.log(d_eff))
        stacked = np.stack(terms)
        top = stacked.max(axis=0)  # (numpy by hand: scipy's logsumexp costs more than the model here)
        out = top + np.log(np.exp(stacked - top).sum(axis=0))
    return out if batched else out[0]


_TEMPLATE = Law(name="fit", A=1, B=1, E=1, alpha=1, beta=1)


Predictor = Callable[[Mapping[str, Any]], np.ndarray]  # values -> log loss per run (batched like predict_log_loss)
Model = Callable[[Runs], Predictor]  # a model prepared for a set of runs


def law_model(runs: Runs) -> Predictor:
    """The planner's law (:func:`predict_log_loss`) as a model."""
    return lambda values: predict_log_loss(values, runs)


def _objective(predict: Predictor, values: Mapping[str, Any], runs: Runs, log_loss: np.ndarray) -> np.ndarray:
    """Weighted mean Huber loss of the log-loss residuals, per parameter set (shape (m,))."""
    r = np.atleast_2d(predict(values)) - log_loss
    # Divided by delta so that the objective (and its gradient) is of order 1 for L-BFGS's tolerances.
    value = (huber(HUBER_DELTA, r) * runs.weight).sum(axis=1) / (HUBER_DELTA * runs.weight.sum())
    return np.where(np.isfinite(value), value, 1e30)


def _to_x(values: Mapping[str, float], free: Sequence[str]) -> np.ndarray:
    return np.array([values[k] if _kind(k) in _LINEAR else math.log(values[k]) for k in free])


def _from_x(x: np.ndarray, free: Sequence[str], fixed: Mapping[str, float], tie_exponents: bool) -> dict[str, Any]:
    """Values for x (shape (d,) or (m, d): m parameter sets at once)."""
    out: dict[str, Any] = dict(fixed)
    for j, k in enumerate(free):
        xj = x[..., j]
        out[k] = xj if _kind(k) in _LINEAR else np.exp(xj)
    if tie_exponents:
        out["beta"] = out["alpha"]
    return out


def _bounds(free: Sequence[str]) -> list[tuple[float, float]]:
    out = []
    for k in free:
        lo, hi = _BOUNDS[_kind(k)]
        out.append((lo, hi) if _kind(k) in _LINEAR else (math.log(lo), math.log(hi)))
    return out


_FD_STEP = 1e-6  # central differences in the fitted coordinates (log of positive constants)


@dataclass(frozen=True)
class _Problem:
    """The objective of one fit in its fitted coordinates x (log of positive constants)."""

    runs: Runs
    start: Mapping[str, float]
    free: tuple[str, ...]
    tie_exponents: bool
    predict: Predictor
    log_loss: np.ndarray

    def values(self, x: np.ndarray) -> dict[str, Any]:
        return _from_x(x, self.free, self.start, self.tie_exponents)

    def batch(self, x: np.ndarray) -> np.ndarray:
        """The objective at many points x (shape (m, d))."""
        return _objective(self.predict, self.values(np.atleast_2d(x)), self.runs, self.log_loss)

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and central-difference gradient, all 2d + 1 points in one batch."""
        d = len(self.free)
        steps = np.vstack([np.zeros(d), _FD_STEP * np.eye(d), -_FD_STEP * np.eye(d)])
        fs = self.batch(x + steps)
        return float(fs[0]), (fs[1:d + 1] - fs[d + 1:]) / (2 * _FD_STEP)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return _bounds(self.free)


def _problem(runs: Runs, start: Mapping[str, float], free: Sequence[str], tie_exponents: bool, model: Model) -> _Problem:
    free = tuple(k for k in free if not (tie_exponents and k == "beta"))
    return _Problem(runs, dict(start), free, tie_exponents, model(runs), np.log(runs.loss))


def fit_values(runs: Runs, start: Mapping[str, float], free: Sequence[str], warm: Mapping[str, float] | None = None,
               tie_exponents: bool = False, seed: int = 0, model: Model = law_model) -> Fit:
    """Minimise the Huber objective of `model` over `free` (others fixed at `start`).

    Without `warm`: the global search of :func:`curate.planner.optimize.global_minimum` over a grid
    of starting points (``_GRID``; at most ``_MAX_GRID`` of them, a seeded sample when the product
    is larger), the best ``_STARTS`` of them and `start` refined by L-BFGS-B, the best polished
    and checked. With `warm` (a bootstrap draw): L-BFGS-B from `warm` and from the grid's best
    point under these runs, no polish.
    """
    prob = _problem(runs, start, free, tie_exponents, model)
    grid = np.array([_to_x(c, prob.free) for c in _grid_starts(prob.free, start, seed)])
    if warm is None:
        found = global_minimum(prob.batch, prob.value_and_gradient, grid, prob.bounds, starts=_STARTS,
                               extra=[_to_x(start, prob.free)])
    else:
        found = global_minimum(prob.batch, prob.value_and_gradient, grid, prob.bounds, starts=1,
                               extra=[_to_x(warm, prob.free)], polish=False)
    values = {k: float(v) for k, v in prob.values(found.x).items()}
    return Fit(values=values, free=prob.free, objective=found.fun, converged=found.converged,
               starts=found.starts, checked=found.checked)


def _grid_starts(free: Sequence[str], start: Mapping[str, float], seed: int) -> list[dict[str, float]]:
    axes = [_GRID[_kind(k)] for k in free]
    total = math.prod(len(a) for a in axes)
    if total <= _MAX_GRID:
        combos: Any = itertools.product(*axes)
    else:
        rng = np.random.default_rng(seed)
        combos = (tuple(a[rng.integers(len(a))] for a in axes) for _ in range(_MAX_GRID))
    return [{**start, **dict(zip(free, c))} for c in combos]


def _profile_of(prob: _Problem, j: int, x_hat: np.ndarray) -> Callable[[float], float]:
    """t -> the objective minimised over the other values with value j fixed at t (fitted coordinate).

    Each call starts from the solution at the nearest t already profiled (continuation: the search
    walks outwards from the optimum in small steps, each side from the optimum)."""
    solved = {float(x_hat[j]): x_hat.copy()}

    def profile(t: float) -> float:
        if len(prob.free) == 1:
            return float(prob.batch(np.array([[t]]))[0])
        bounds = [(t, t) if i == j else b for i, b in enumerate(prob.bounds)]
        x0 = solved[min(solved, key=lambda s: abs(s - t))].copy()
        x0[j] = t
        x, f, _ = local_minimum(prob.value_and_gradient, x0, bounds)
        solved[t] = x
        return f

    return profile


def profile_intervals(runs: Runs, fit: Fit, tie_exponents: bool, level: float,
                      model: Model = law_model) -> tuple[dict[str, list[float]], dict[str, list[bool]]]:
    """Profile-likelihood interval of every fitted value (curate.planner.profile), and which of its
    ends stopped at the search bound."""
    prob = _problem(runs, fit.values, fit.free, tie_exponents, model)
    x_hat = _to_x(fit.values, prob.free)
    residuals = prob.predict(fit.values) - prob.log_loss
    kappa = huber_dispersion(residuals, runs.weight, HUBER_DELTA)
    to_q = HUBER_DELTA * float(runs.weight.sum())  # the fit's objective is Q / (delta * sum w)
    limit = drop_limit(fit.objective * to_q, kappa, level) / to_q
    intervals, at_bound = {}, {}
    for j, name in enumerate(prob.free):
        lo, hi, lo_b, hi_b = profile_interval(_profile_of(prob, j, x_hat), float(x_hat[j]), limit, prob.bounds[j])
        natural = (lo, hi) if _kind(name) in _LINEAR else (math.exp(lo), math.exp(hi))
        intervals[name] = [float(natural[0]), float(natural[1])]
        at_bound[name] = [lo_b, hi_b]
    return intervals, at_bound


# ---------------------------------------------------------------------------------------------
# Calibration


def calibrate(
    runs: Runs,
    fit: str | Sequence[str] = "repetition",
    base: str | Law | CalibratedLaw = "datablations",
    reference: str | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    holdout: int | Sequence[str] | None = None,
    tie_exponents: bool = False,
    level: float = 0.95,
    bucket_definition: Mapping[str, Any] | None = None,
    qqt_pools: str = "mean",
    profile: bool = True,
) -> Calibration:
    """Fit `fit` (any of ``repetition``, ``base``, ``buckets``) on `runs`, others fixed at `base`.

    - ``repetition``: R_D* and R_N* (R_N* only if the base law has one);
    - ``base``: E, A, B, alpha, beta (``tie_exponents``: alpha = beta), on runs of at most one epoch;
    - ``buckets``: per bucket a utility (the `reference` bucket's is 1) and an R_D*;
    - ``qqt`` (alone): ours (``buckets``, or ``repetition`` without buckets) and, in ``.qqt``,
      Goyal et al. 2024's law fitted on the same runs, compared by held-out error; `qqt_pools`
      is its pool weighting (``mean``, the authors', or ``share``: see curate.planner.qqt).

    `holdout`: an int keeps that many largest-compute runs out of the fit, a list keeps those run
    names out; their mean absolute error is reported. `bootstrap` draws, seeded by `seed`; with
    `profile`, profile-likelihood intervals too (curate.planner.profile).
    """
    kinds = tuple([fit] if isinstance(fit, str) else fit)
    unknown = [k for k in kinds if k not in FIT_KINDS]
    if unknown or not kinds:
        raise ConfigError(f"calibrate: unknown fit {unknown or kinds!r} (choose from {', '.join(FIT_KINDS)})")
    if "qqt" in kinds:
        if kinds != ("qqt",):
            raise ConfigError("calibrate: fit 'qqt' is a comparison on its own; give it without other fits")
        ours_kinds = ("buckets",) if any(p != REFERENCE_POOL for p in runs.pools) else ("repetition",)
        ours = calibrate(runs, ours_kinds, base=base, reference=reference, bootstrap=bootstrap, seed=seed,
                         holdout=holdout, level=level, bucket_definition=bucket_definition, profile=profile)
        ours.qqt = compare_qqt(ours, seed, qqt_pools)
        return ours
    if not 0 < level < 1:
        raise ConfigError(f"calibrate: level must be in (0, 1), got {level}")
    if bootstrap < 0:
        raise ConfigError(f"calibrate: bootstrap must be >= 0, got {bootstrap}")
    base_obj = resolve_law(base)
    start = base_obj.values() if isinstance(base_obj, CalibratedLaw) else law_values(base_obj)
    bucket_pools = [p for p in runs.pools if p != REFERENCE_POOL]
    free = _free_names(kinds, start, bucket_pools, reference)
    if "buckets" in kinds:
        for p in bucket_pools:
            start.setdefault(f"utility:{p}", 1.0)
            start.setdefault(f"r_d_star:{p}", start["r_d_star"])
        start[f"utility:{reference}"] = 1.0  # what utility 1 means: the reference bucket
    held_out = _holdout_mask(runs, holdout)
    fitted = ~held_out
    if kinds == ("base",):
        fitted &= (runs.epochs <= ONE_EPOCH).all(axis=1)
    min_runs = len(free) + 2
    if fitted.sum() < min_runs:
        raise ConfigError(f"calibrate: fitting {', '.join(free)} needs at least {min_runs} runs"
                          f"{' of at most one epoch' if kinds == ('base',) else ''}; {int(fitted.sum())} available")
    fit_runs = runs.take(np.flatnonzero(fitted))
    # L-BFGS-B calls BLAS on vectors of a few elements; threaded BLAS only adds waiting (measured
    # 16x slower on a busy 2-core machine), so the fits run with one BLAS thread.
    with threadpool_limits(limits=1, user_api="blas"):
        full = fit_values(fit_runs, start, free, tie_exponents=tie_exponents, seed=seed)
        rng = np.random.default_rng(seed)
        draws: dict[str, list[float]] = {k: [] for k in full.free + (("beta",) if tie_exponents else ())}
        for _ in range(bootstrap):
            sample = fit_runs.take(rng.integers(0, len(fit_runs), len(fit_runs)))
            d = fit_values(sample, full.values, full.free, warm=full.values, tie_exponents=tie_exponents, seed=seed)
            for k in draws:
                draws[k].append(d.values[k])
        intervals, at_bound = profile_intervals(fit_runs, full, tie_exponents, level) if profile else ({}, {})
    return Calibration(
        fit=full, kinds=kinds, base=base_obj, reference=reference, runs=runs, fitted=fitted, held_out=held_out,
        draws=draws, seed=seed, level=level, bucket_definition=bucket_definition,
        predicted=np.exp(predict_log_loss(full.values, runs)), profile=intervals, profile_at_bound=at_bound,
    )


def _free_names(kinds: Sequence[str], start: Mapping[str, float], pools: Sequence[str], reference: str | None) -> list[str]:
    free: list[str] = []
    if "base" in kinds:
        free += ["E", "A", "B", "alpha", "beta"]
    if "repetition" in kinds:
        free += ["r_d_star"] + (["r_n_star"] if "r_n_star" in start else [])
    if "buckets" in kinds:
        if not pools:
            raise ConfigError("calibrate: fit 'buckets' needs mixture or per-bucket runs (rows with 'buckets')")
        if reference is None or reference not in pools:
            raise ConfigError(f"calibrate: fit 'buckets' needs a reference bucket (utility 1) among "
                              f"{', '.join(pools)}; got {reference!r}")
        free += [f"utility:{p}" for p in pools if p != reference] + [f"r_d_star:{p}" for p in pools]
    return free


def _holdout_mask(runs: Runs, holdout: int | Sequence[str] | None) -> np.ndarray:
    mask = np.zeros(len(runs), dtype=bool)
    if holdout is None:
        return mask
    if isinstance(holdout, int):
        if not 0 <= holdout < len(runs):
            raise ConfigError(f"calibrate: holdout must be between 0 and {len(runs) - 1} runs, got {holdout}")
        if holdout:
            mask[np.argsort(-runs.compute, kind="stable")[:holdout]] = True
        return mask
    names = set(holdout)
    missing = sorted(names - set(runs.names))
    if missing:
        raise ConfigError(f"calibrate: holdout names not among the runs: {', '.join(missing)}")
    return np.array([n in names for n in runs.names])


def compare_qqt(ours: Calibration, seed: int = 0, pools: str = "mean") -> dict[str, Any]:
    """Fit QQT (curate.planner.qqt, pool weighting `pools`) on the runs `ours` was fitted on; both
    laws' errors side by side."""
    from curate.planner.qqt import qqt_model, qqt_names, qqt_start

    def model(runs: Runs) -> Predictor:
        return qqt_model(runs, pools)

    fit_runs = ours.runs.take(np.flatnonzero(ours.fitted))
    with threadpool_limits(limits=1, user_api="blas"):
        q = fit_values(fit_runs, qqt_start(ours.runs), qqt_names(ours.runs), seed=seed, model=model)
    predicted = np.exp(model(ours.runs)(q.values))
    residual = ours.runs.loss - predicted
    y, r = ours.runs.loss[ours.fitted], residual[ours.fitted]
    ss_tot = float(((y - y.mean()) ** 2).sum())
    mae = float(np.abs(residual[ours.held_out]).mean()) if ours.held_out.any() else None
    ours_mae = ours.holdout_mae()
    verdict = None
    if mae is not None and ours_mae is not None:
        verdict = "ours" if ours_mae < mae else "qqt"
    return {
        "law": "QQT (Goyal et al. 2024, their objective.py): y = ((n_1/s)^-b + d) prod_k (n_end/n_start)^-b_k, "
               f"b_k = b (1/2)^(k/tau), pools weighted by {'their mean' if pools == 'mean' else 'token share'}",
        "pools": pools,
        "values": q.values,
        "objective": q.objective,
        "converged": q.converged,
        "r2": 1.0 - float((r**2).sum()) / ss_tot if ss_tot > 0 else None,
        "holdout_mae": mae,
        "ours_r2": ours.r2(),
        "ours_holdout_mae": ours_mae,
        "better_on_holdout": verdict,
        "predicted": [float(x) for x in predicted],
    }
