"""The QQT scaling law of Goyal et al. 2024 as a comparison for calibration (``--fit qqt``).

Goyal, Maini, Lipton, Raghunathan, Kolter 2024, "Scaling Laws for Data Filtering -- Data Curation
cannot be Compute Agnostic" (CVPR 2024, arXiv:2404.07177), as their code computes it
(github.com/locuslab/scaling_laws_data_filtering, ``objective.py``, ``func_effective_utility`` and
``func_effective_utility_aggregation``). For a pool of U unique samples seen n times in all, with
utility exponent b, half-life tau (epochs), scale s and floor d:

    y = ((min(n, U) / s)^(-b) + d) * prod_{k=1..floor(n/U)} (min(n, (k+1) U) / (k U))^(-b 0.5^(k/tau))

The first epoch is a power law plus its floor; every later epoch k multiplies the *whole* loss,
floor included, by the ratio of samples seen at its end and start raised to the decayed exponent.
(Their code writes the exponent as b < 0 and the scale as a / 1e5: s = 1e5 / a, our b = -theirs.)
Pools trained together (``func_effective_utility_aggregation``) share the epoch count of their
union and use the mean of their decayed exponents, b_k = mean_i b_i 0.5^(k / tau_i).

curate's runs may draw pools at different rates; the product then runs over the pieces between the
epoch boundaries of every pool, each pool at its own epoch index k_i. ``pools="mean"`` (the
default, the authors' aggregation) averages the pools present in a run with equal weights;
``pools="share"`` weights them by their share of the run's tokens. The two agree when a run draws
equal shares; with unequal shares the mean lets a pool that supplies 1% of the tokens set half the
exponent, which is why the share-weighted form is offered (docs/planner.md, "--fit qqt").

QQT has no parameter term, so it is fitted on runs at one model size. Values: ``qqt_scale``
(tokens, the s above; shared), ``qqt_d`` (the floor d), per pool ``qqt_b:<pool>`` (utility
exponent) and ``qqt_tau:<pool>`` (half-life).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from curate.errors import ConfigError
from curate.planner.runs import Runs

_HALF = math.log(2.0)
POOL_WEIGHTINGS = ("mean", "share")  # the authors' equal mean of the pools present, or token shares


def qqt_names(runs: Runs) -> list[str]:
    """The QQT values fitted for these runs' pools."""
    return ["qqt_scale", "qqt_d", *[f"qqt_b:{p}" for p in runs.pools], *[f"qqt_tau:{p}" for p in runs.pools]]


def qqt_start(runs: Runs) -> dict[str, float]:
    """A neutral starting point (the grid of calibrate's fit_values refines it)."""
    out = {"qqt_scale": 1e8, "qqt_d": 1.5}
    for p in runs.pools:
        out[f"qqt_b:{p}"], out[f"qqt_tau:{p}"] = 0.3, 4.0
    return out


def qqt_model(runs: Runs, pools: str = "mean") -> Any:
    """A predictor of log loss under QQT for `runs` (the epoch pieces are laid out once here).

    `pools`: ``mean`` (the authors' aggregation) or ``share`` (token-share weights).
    """
    if pools not in POOL_WEIGHTINGS:
        raise ConfigError(f"calibrate: QQT pool weighting must be one of {', '.join(POOL_WEIGHTINGS)}, got {pools!r}")
    if len(np.unique(runs.params)) != 1:
        raise ConfigError(f"calibrate: QQT has no parameter term; fit it on runs at one model size "
                          f"(found {len(np.unique(runs.params))} sizes)")
    run_of, log_len, first, k, weight = _segments(runs, pools)
    later = np.zeros((len(run_of), len(runs)))  # sums the pieces after each run's first
    later[np.flatnonzero(first == 0), run_of[first == 0]] = 1.0
    first_of_run = np.flatnonzero(first)  # one per run, in run order

    def predict(values: Mapping[str, Any]) -> np.ndarray:
        batched = any(np.ndim(v) for v in values.values())
        m = max(np.size(v) for v in values.values())

        def col(key: str) -> np.ndarray:
            return np.broadcast_to(np.asarray(values[key], dtype=np.float64).reshape(-1, 1), (m, 1))

        b = np.concatenate([col(f"qqt_b:{p}") for p in runs.pools], axis=1)[:, None, :]  # (m, 1, pools)
        tau = np.concatenate([col(f"qqt_tau:{p}") for p in runs.pools], axis=1)[:, None, :]
        b_eff = (weight[None] * b * np.exp(-_HALF * k[None] / tau)).sum(axis=-1)  # (m, pieces)
        # first epoch: log((n_1 / s)^(-b) + d); every later piece multiplies the whole loss
        power = -b_eff[:, first_of_run] * (log_len[first_of_run][None] - np.log(col("qqt_scale")))
        out = np.logaddexp(power, np.log(col("qqt_d"))) - (b_eff * log_len[None]) @ later
        return out if batched else out[0]

    return predict


def _segments(runs: Runs, pools: str) -> tuple[np.ndarray, ...]:
    """Per run, the pieces of [0, D] between the epoch boundaries of its pools.

    Returns (run index, log length: ln(n_end) for a run's first piece, else ln(n_end / n_start);
    first-piece flag, epoch index k per pool, pool weight), one row per piece.
    """
    run_of, log_len, first, ks, weights = [], [], [], [], []
    total = runs.total_tokens
    for r in range(len(runs)):
        D = float(total[r])
        present = runs.tokens[r] > 0
        share = runs.tokens[r] / D
        weight = share if pools == "share" else present / present.sum()
        cuts = {D}
        for j in np.flatnonzero(present):
            step = float(runs.unique[r, j] / share[j])  # total tokens per epoch of pool j
            cuts.update(step * m for m in range(1, int(math.ceil(D / step))))
        ends = np.array(sorted(c for c in cuts if 0 < c <= D))
        starts = np.concatenate([[0.0], ends[:-1]])
        mid = 0.5 * (starts + ends)
        k = np.floor(mid[:, None] * share[None, :] / np.where(runs.unique[r] > 0, runs.unique[r], 1.0)[None, :])
        run_of.append(np.full(len(ends), r))
        log_len.append(np.log(ends) - np.log(np.where(starts > 0, starts, 1.0)))
        first.append(starts == 0)
        ks.append(k)
        weights.append(np.broadcast_to(weight, k.shape))
    return (np.concatenate(run_of), np.concatenate(log_len), np.concatenate(first).astype(np.float64),
            np.vstack(ks), np.vstack(weights))
