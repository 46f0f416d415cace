"""Fit a mixture law from proxy runs (``curate calibrate --fit mixture``): the model, its
bootstrap draws, and how well it ranks runs it was and was not fitted on.

The scores are RegMix's (Liu et al. 2024, section 3, Table 2): Spearman's rank correlation between
predicted and measured target loss, and the mean absolute error, on the runs of the fit
("in-sample") and on runs kept out of it (``holdout``: K runs drawn at random with the seed, or
runs named). Intervals are percentile bootstrap intervals over runs (each draw refitted from the
full fit), as ``curate calibrate`` gives for the repetition constants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from curate.errors import ConfigError
from curate.planner.lawfile import LAW_FORMAT
from curate.planner.mixture.exponential import HUBER_DELTA, RIDGE, fit_exponential
from curate.planner.mixture.law import (
    KIND,
    MODELS,
    MixtureLaw,
    Model,
    mixture_law_from_dict,
    model_section,
)
from curate.planner.mixture.regression import GBM_PARAMS, fit_gbm, fit_linear
from curate.planner.mixture.runs import MixtureRuns, Target, resolve_target
from curate.store.storage import Storage

# Bootstrap draws by default: 100 keep the exponential fit of 512 runs x 17 domains at about 30 CPU
# seconds per validation domain (bench/planner.py), and on RegMix's runs (Pile-CC) the 95% percentile
# intervals from 100 draws move between two seeds by a median 7% of their width (at most 15%).
BOOTSTRAP = 100


@dataclass
class MixtureCalibration:
    """A fitted mixture law with its draws, the runs and their predictions, and the scores."""

    model: Model
    runs: MixtureRuns
    target: Target
    measured: np.ndarray  # target loss per run
    predicted: np.ndarray
    held_out: np.ndarray  # bool per run
    draws: dict[str, list[float]]
    seed: int
    level: float
    settings: dict[str, Any]
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def fitted(self) -> np.ndarray:
        return ~self.held_out

    @property
    def intervals(self) -> dict[str, list[float]]:
        lo, hi = 50 * (1 - self.level), 50 * (1 + self.level)
        return {k: [float(np.percentile(v, lo)), float(np.percentile(v, hi))] for k, v in self.draws.items() if v}

    def scores(self, mask: np.ndarray) -> dict[str, Any]:
        """Spearman rank correlation and mean absolute error of the runs in `mask`."""
        return rank_scores(self.measured[mask], self.predicted[mask])

    def law(self) -> MixtureLaw:
        """The law as read back from its law.json."""
        return mixture_law_from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The law.json document (docs/planner.md, "Mixtures")."""
        fit_runs = self.runs.take(np.flatnonzero(self.fitted))
        n_draws = len(next(iter(self.draws.values()), []))
        return {
            "format": LAW_FORMAT,
            "kind": KIND,
            "name": "mixture",
            "source": f"curate calibrate --fit mixture: {self.model.kind} on {int(self.fitted.sum())} runs, "
                      f"target {self.target.name}",
            "model": self.model.kind,
            "domains": list(self.model.domains),
            "target": self.target.to_dict(),
            **model_section(self.model),
            "intervals": {"level": self.level, **self.intervals},
            "bootstrap": {"seed": self.seed, "draws": n_draws, "values": self.draws},
            "fit": {
                **self.settings,
                "runs": int(self.fitted.sum()),
                **self.diagnostics,
                "in_sample": self.scores(self.fitted),
                "holdout": {"names": [n for n, h in zip(self.runs.names, self.held_out) if h],
                            **self.scores(self.held_out)},
            },
            "range": {"proportions": fit_runs.proportion_range(), "params": _span(fit_runs.params),
                      "tokens": _span(fit_runs.tokens)},
            "residuals": [
                {"name": n, "loss": float(y), "predicted": float(p), "residual": float(y - p), "held_out": bool(h)}
                for n, y, p, h in zip(self.runs.names, self.measured, self.predicted, self.held_out)
            ],
            "runs_fingerprint": self.runs.fingerprint(),
            "warnings": list(self.runs.warnings),
        }


def rank_scores(measured: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """{"runs", "spearman", "mae"}: Spearman's rho (scipy.stats.spearmanr; None for fewer than 3
    runs or a constant side) and the mean absolute error."""
    from scipy.stats import spearmanr

    n = len(measured)
    rho = None  # spearmanr is undefined there
    if n >= 3 and np.ptp(measured) > 0 and np.ptp(predicted) > 0:
        rho = float(spearmanr(measured, predicted).statistic)
    return {"runs": n, "spearman": rho, "mae": float(np.abs(measured - predicted).mean()) if n else None}


def _span(x: np.ndarray) -> list[float] | None:
    x = x[~np.isnan(x)]
    return [float(x.min()), float(x.max())] if x.size else None


def holdout_mask(runs: MixtureRuns, holdout: int | Sequence[str] | None, seed: int) -> np.ndarray:
    """Runs kept out of the fit: K drawn at random (numpy's generator seeded by `seed`), or those named."""
    mask = np.zeros(len(runs), dtype=bool)
    if holdout is None:
        return mask
    if isinstance(holdout, int):
        if not 0 <= holdout <= len(runs) - 3:
            raise ConfigError(f"--holdout must keep at least 3 runs for the fit: between 0 and {len(runs) - 3}, "
                              f"got {holdout}")
        mask[np.random.default_rng(seed).choice(len(runs), holdout, replace=False)] = True
        return mask
    names = set(holdout)
    missing = sorted(names - set(runs.names))
    if missing:
        raise ConfigError(f"--holdout names runs not in {runs.source}: {', '.join(missing)}")
    return np.array([n in names for n in runs.names])


def calibrate_mixture(
    runs: MixtureRuns,
    target: str | Mapping[str, float] | None = None,
    model: str = "exponential",
    holdout: int | Sequence[str] | None = None,
    seed: int = 0,
    bootstrap: int = BOOTSTRAP,
    level: float = 0.95,
    ridge: float = RIDGE,
    huber_delta: float = HUBER_DELTA,
    storage: Storage | None = None,
) -> MixtureCalibration:
    """Fit a mixture law of kind `model` (``exponential``, ``linear``, ``gbm``) for `target` (a
    validation domain, a weights mapping or file; see :func:`resolve_target`) on `runs`.

    ``exponential`` fits every validation domain the target weighs (Ye et al. 2024); the regressors
    fit the target itself (RegMix). `bootstrap` draws (none for ``gbm``) are seeded by `seed`; a
    weights file is read with `storage` (default: the environment's options)."""
    if model not in MODELS:
        raise ConfigError(f"calibrate: unknown mixture model {model!r} (choose from {', '.join(MODELS)})")
    if not 0 < level < 1:
        raise ConfigError(f"calibrate: level must be in (0, 1), got {level}")
    if bootstrap < 0 or ridge < 0 or huber_delta <= 0:
        raise ConfigError("calibrate: bootstrap and ridge must be >= 0 and the Huber delta > 0")
    tgt = resolve_target(target, runs, storage)
    measured = tgt.values(runs)
    held_out = holdout_mask(runs, holdout, seed)
    fit_idx = np.flatnonzero(~held_out)
    R = runs.proportions
    used = [v for v in tgt.weights if tgt.weights[v] > 0]
    col = [runs.validation.index(v) for v in used]
    weights = np.array([tgt.weights[v] for v in used])

    def fit(idx: np.ndarray, start: Model | None = None) -> tuple[Model, dict[str, Any]]:
        if model == "exponential":
            assert start is None or start.kind == "exponential"
            law, fits = fit_exponential(R[idx], runs.losses[np.ix_(idx, col)], runs.domains, used, weights,
                                        huber_delta, ridge, start)  # type: ignore[arg-type]
            return law, {"objective": {v: f.objective for v, f in zip(used, fits)},
                         "converged": all(f.converged for f in fits)}
        if model == "linear":
            return fit_linear(R[idx], measured[idx], runs.domains), {}
        return fit_gbm(R[idx], measured[idx], runs.domains, seed), {}

    settings: dict[str, Any] = {"model": model}
    if model == "exponential":
        settings |= {"method": "L-BFGS-B (scipy.optimize) from least-squares starts over a grid of floors c",
                     "loss": f"Huber(delta={huber_delta}) on the loss, ridge {ridge} on mean t^2",
                     "huber_delta": huber_delta, "ridge": ridge}
    elif model == "linear":
        settings |= {"method": "least squares (numpy.linalg.lstsq), no intercept: the proportions sum to 1"}
    else:
        settings |= {"method": "LightGBM regression", "params": {**GBM_PARAMS, "seed": seed}}
    # Many small L-BFGS-B fits: threaded BLAS only adds waiting (see curate/planner/calibration.py).
    with threadpool_limits(limits=1, user_api="blas"):
        full, diagnostics = fit(fit_idx)
        draws: dict[str, list[float]] = {k: [] for k in full.flat()}
        if draws and bootstrap:
            rng = np.random.default_rng(seed)
            for _ in range(bootstrap):
                drawn, _diag = fit(fit_idx[rng.integers(0, len(fit_idx), len(fit_idx))], full)
                for k, v in drawn.flat().items():
                    draws[k].append(v)
    return MixtureCalibration(model=full, runs=runs, target=tgt, measured=measured,
                              predicted=full.predict(R), held_out=held_out, draws=draws, seed=seed, level=level,
                              settings=settings, diagnostics=diagnostics)

