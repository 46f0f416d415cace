"""RegMix's regressors (Liu et al. 2024, "RegMix: Data Mixture as Regression for Language Model
Pre-training", ICLR 2025, section 2; authors' code github.com/sail-sg/regmix,
``regression_fitting/regression.ipynb``): the target loss regressed on the training proportions.

- ``linear``: least squares, L(r) = sum_j beta_j r_j. RegMix fits scikit-learn's
  LinearRegression (an intercept and a coefficient per domain); since proportions sum to 1 the
  intercept folds into the betas and the predictions are the same, and beta_j reads as the loss
  of training on domain j alone.
- ``gbm``: gradient-boosted trees with LightGBM (an extra: ``pip install 'curate[mixture]'``),
  the notebook's settings (regression objective, gbdt, learning rate 1e-2, 1000 rounds), one
  thread and deterministic. The notebook stops early on its test runs; curate never looks at
  held-out runs while fitting and keeps the 1000 rounds (see docs/planner.md, "Mixtures"). The
  fitted booster is kept as LightGBM's model text inside law.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from curate.errors import ConfigError

# regression_fitting/regression.ipynb, `hyper_params` (seed set per fit from --seed)
GBM_PARAMS: dict[str, Any] = {
    "objective": "regression", "boosting_type": "gbdt", "learning_rate": 1e-2, "num_iterations": 1000,
    "verbosity": -1, "num_threads": 1, "deterministic": True, "force_row_wise": True,
}


@dataclass(frozen=True)
class LinearModel:
    """L(r) = sum_j beta[j] r_j over training domains ``domains``."""

    domains: tuple[str, ...]
    beta: np.ndarray

    kind = "linear"

    def predict(self, proportions: np.ndarray) -> np.ndarray:
        return np.asarray(proportions, dtype=np.float64) @ self.beta

    def gradient(self, proportions: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.beta, np.shape(proportions)).copy()

    def values(self) -> dict[str, Any]:
        return {"beta": {d: float(b) for d, b in zip(self.domains, self.beta)}}

    def flat(self) -> dict[str, float]:
        return {f"beta:{d}": float(b) for d, b in zip(self.domains, self.beta)}

    def with_flat(self, flat: Mapping[str, float]) -> LinearModel:
        return LinearModel(self.domains, np.array([flat[f"beta:{d}"] for d in self.domains], dtype=np.float64))

    @classmethod
    def from_values(cls, domains: Sequence[str], values: dict[str, Any]) -> LinearModel:
        return cls(tuple(domains), np.array([float(values["beta"][d]) for d in domains]))


def fit_linear(R: np.ndarray, y: np.ndarray, domains: Sequence[str]) -> LinearModel:
    """Least squares without intercept (the simplex's rows sum to 1; minimum norm for domains never trained on)."""
    beta, *_ = np.linalg.lstsq(R, y, rcond=None)
    return LinearModel(tuple(domains), beta)


@dataclass(frozen=True)
class GbmModel:
    """A LightGBM booster over training domains ``domains``, kept as LightGBM's model text."""

    domains: tuple[str, ...]
    model_text: str
    params: dict[str, Any]

    kind = "gbm"

    @cached_property
    def booster(self) -> Any:
        lgb = lightgbm()
        return lgb.Booster(model_str=self.model_text)

    def predict(self, proportions: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(np.asarray(proportions, dtype=np.float64), num_threads=1))

    def values(self) -> dict[str, Any]:
        return {"params": dict(self.params), "model": self.model_text}

    def flat(self) -> dict[str, float]:
        return {}

    def with_flat(self, flat: Mapping[str, float]) -> GbmModel:
        return self

    @classmethod
    def from_values(cls, domains: Sequence[str], values: dict[str, Any]) -> GbmModel:
        if not isinstance(values["model"], str):
            raise TypeError("gbm.model must be LightGBM's model text")
        return cls(tuple(domains), values["model"], dict(values.get("params") or {}))


def lightgbm() -> Any:
    """The lightgbm module, or a ConfigError saying how to install it."""
    try:
        import lightgbm as lgb
    except ImportError:
        raise ConfigError("model 'gbm' needs LightGBM: pip install 'curate[mixture]'") from None
    return lgb


def fit_gbm(R: np.ndarray, y: np.ndarray, domains: Sequence[str], seed: int = 0) -> GbmModel:
    """LightGBM regression of `y` on `R` with :data:`GBM_PARAMS`, seeded."""
    lgb = lightgbm()
    params = {**GBM_PARAMS, "seed": seed}
    rounds = params.pop("num_iterations")
    booster = lgb.train(params, lgb.Dataset(np.asarray(R, dtype=np.float64), label=np.asarray(y, dtype=np.float64),
                                            feature_name=[f"d{j}" for j in range(len(domains))]),
                        num_boost_round=rounds)
    return GbmModel(tuple(domains), booster.model_to_string(), {**params, "num_iterations": rounds})
