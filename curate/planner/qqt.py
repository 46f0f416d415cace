"""The QQT scaling law of Goyal et al. 2024 as a comparison for calibration (``--fit qqt``).

Goyal, Maini, Lipton, Raghunathan, Kolter 2024, "Scaling Laws for Data Filtering -- Data Curation
cannot be Compute Agnostic" (CVPR 2024, arXiv:2404.07177): a pool's loss follows a power law in
samples seen, y = d + (n / s)^(-b), whose utility exponent b decays with repetition: in a
sample's (k+1)-th epoch (k = 0, 1, ...) it is b * (1/2)^(k / tau), tau the pool's half-life in
epochs. Piece by piece, each epoch multiplies the reducible loss by (n_end / n_start)^(-b_k).
Pools trained together are combined through an effective utility, the average of the pools'
current decayed utilities (the paper mixes equal shares; with unequal shares we weight by the
pool's share of the tokens, pi_i = D_i / D):

    d ln(y - d) / d ln n = -sum_i pi_i b_i (1/2)^(k_i(n) / tau_i),  k_i(n) = floor(pi_i n / U_i)

QQT has no parameter term, so it is fitted on runs at one model size. Values: ``qqt_scale``
(tokens, the s above; shared), ``qqt_d`` (irreducible loss), per pool ``qqt_b:<pool>`` (utility
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


def qqt_names(runs: Runs) -> list[str]:
    """The QQT values fitted for these runs' pools."""
    return ["qqt_scale", "qqt_d", *[f"qqt_b:{p}" for p in runs.pools], *[f"qqt_tau:{p}" for p in runs.pools]]


def qqt_start(runs: Runs) -> dict[str, float]:
    """A neutral starting point (the grid of calibrate's fit_values refines it)."""
    out = {"qqt_scale": 1e8, "qqt_d": 1.5}
    for p in runs.pools:
        out[f"qqt_b:{p}"], out[f"qqt_tau:{p}"] = 0.3, 4.0
    return out


def qqt_model(runs: Runs) -> Any:
    """A predictor of log loss under QQT for `runs` (the epoch segments are laid out once here)."""
    if len(np.unique(runs.params)) != 1:
        raise ConfigError(f"calibrate: QQT has no parameter term; fit it on runs at one model size "
                          f"(found {len(np.unique(runs.params))} sizes)")
    run_of, log_len, first, k, share = _segments(runs)
    indicator = np.zeros((len(run_of), len(runs)))
    indicator[np.arange(len(run_of)), run_of] = 1.0

    def predict(values: Mapping[str, Any]) -> np.ndarray:
        batched = any(np.ndim(v) for v in values.values())
        m = max(np.size(v) for v in values.values())

        def col(key: str) -> np.ndarray:
            return np.broadcast_to(np.asarray(values[key], dtype=np.float64).reshape(-1, 1), (m, 1))

        b = np.concatenate([col(f"qqt_b:{p}") for p in runs.pools], axis=1)[:, None, :]  # (m, 1, pools)
        tau = np.concatenate([col(f"qqt_tau:{p}") for p in runs.pools], axis=1)[:, None, :]
        b_eff = (share[None] * b * np.exp(-_HALF * k[None] / tau)).sum(axis=-1)  # (m, segments)
        lengths = log_len[None] - first[None] * np.log(col("qqt_scale"))  # first piece starts at n = s
        log_reducible = -(b_eff * lengths) @ indicator  # (m, runs)
        out = np.logaddexp(np.log(col("qqt_d")), log_reducible)
        return out if batched else out[0]

    return predict


def _segments(runs: Runs) -> tuple[np.ndarray, ...]:
    """Per run, the pieces of [0, D] between epoch boundaries of any pool.

    Returns (run index, ln(n_end) - ln(n_start) with ln(n_start) = 0 for a run's first piece,
    first-piece flag, epoch index k per pool, token share per pool), one row per piece.
    """
    run_of, log_len, first, ks, shares = [], [], [], [], []
    total = runs.total_tokens
    for r in range(len(runs)):
        D = float(total[r])
        share = runs.tokens[r] / D
        cuts = {D}
        for j in np.flatnonzero(runs.tokens[r] > 0):
            step = float(runs.unique[r, j] / share[j])  # total tokens per epoch of pool j
            cuts.update(step * m for m in range(1, int(math.ceil(D / step))))
        ends = np.array(sorted(c for c in cuts if 0 < c <= D))
        starts = np.concatenate([[0.0], ends[:-1]])
        mid = np.where(starts > 0, 0.5 * (starts + ends), 0.5 * ends)
        k = np.floor(mid[:, None] * share[None, :] / np.where(runs.unique[r] > 0, runs.unique[r], 1.0)[None, :])
        lengths = np.log(ends) - np.log(np.where(starts > 0, starts, 1.0))
        run_of.append(np.full(len(ends), r))
        log_len.append(lengths)
        first.append(starts == 0)
        ks.append(k)
        shares.append(np.broadcast_to(share, k.shape))
    return (np.concatenate(run_of), np.concatenate(log_len), np.concatenate(first).astype(np.float64),
            np.vstack(ks), np.vstack(shares))
