"""Loss laws for the budget planner: predicted loss from parameters and (repeated) data.

Two laws are offered. Both discount repeated tokens with the datablations decay, so that a
planner never pours all compute into the best bucket:

- ``datablations``: the data-constrained law of Muennighoff et al. 2023, "Scaling
  Data-Constrained Language Models" (NeurIPS 2023, arXiv:2305.16264), with the C4 fit
  published in the paper's repository (github.com/huggingface/datablations, README,
  "Parametric Fit"): repeated tokens *and* excess parameters decay in value.
- ``chinchilla``: the refit of Hoffmann et al. 2022's approach 3 by Besiroglu et al. 2024,
  "Chinchilla Scaling: A replication attempt" (arXiv:2404.10102), L = E + A/N^a + B/D'^b,
  with D' the same repetition-discounted token count (no excess-parameter decay).

Everything here is vectorized numpy on float64 and free of I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# R_D*: repeated data keeps value like U*R_D*(1 - exp(-R/R_D*)) for R repetitions
# (Muennighoff et al. 2023, eq. 5, C4 fit; datablations README: rd_star = 15.387756).
R_D_STAR = 15.387756
# R_N*: the same decay for parameters beyond what the unique data justifies
# (Muennighoff et al. 2023, eq. 6; datablations README: rn_star = 5.309743).
R_N_STAR = 5.309743


@dataclass(frozen=True)
class Law:
    """A loss law L(N, D_eff, U_used) = E + A / N'^alpha + B / D_eff^beta.

    ``r_n`` is R_N* for laws with excess-parameter decay (N' < N when N exceeds what the unique
    data justifies), or None for laws where N' = N.
    """

    name: str
    A: float
    B: float
    E: float
    alpha: float
    beta: float
    r_d: float = R_D_STAR
    r_n: float | None = None
    source: str = ""
    # What the law was fitted on: {"params": [lo, hi], "tokens": [lo, hi], "epochs": [lo, hi]}, an
    # end None where the source does not say; plans outside it are warned about.
    fit_range: Mapping[str, Sequence[float | None]] | None = None

    @property
    def G(self) -> float:
        """G = ((alpha*A)/(beta*B))^(1/(alpha+beta)) (Hoffmann et al. 2022, eq. 4; datablations README)."""
        return ((self.alpha * self.A) / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))

    def d_to_n(self, tokens: float | np.ndarray) -> float | np.ndarray:
        """Compute-optimal parameters for `tokens` of data: (D*G)^(beta/alpha) * G (datablations `D_to_N`)."""
        G = self.G
        return (tokens * G) ** (self.beta / self.alpha) * G

    def compute_optimal_params(self, compute: float) -> float:
        """Chinchilla-optimal N for compute C = 6 N D with unlimited fresh data: N = G (C/6)^(b/(a+b))."""
        return self.G * (compute / 6.0) ** (self.beta / (self.alpha + self.beta))

    def compute_for_params(self, params: float) -> float:
        """The compute at which N = `params` is Chinchilla-optimal with fresh data (the inverse of
        :meth:`compute_optimal_params`): C = 6 (N / G)^((alpha + beta) / beta)."""
        return 6.0 * (params / self.G) ** ((self.alpha + self.beta) / self.beta)

    def effective_tokens(self, tokens: np.ndarray | float, unique: np.ndarray | float) -> np.ndarray:
        """D' for drawing `tokens` from `unique` unique tokens (datablations effective data)."""
        return effective_tokens(tokens, unique, self.r_d)

    def effective_params(self, params: float, unique_used: float) -> float:
        """N' (effective parameters) for N parameters trained on `unique_used` unique (weighted) tokens."""
        return float(self.effective_params_array(params, unique_used))

    def effective_params_array(self, params: np.ndarray | float, unique_used: np.ndarray | float) -> np.ndarray:
        """N' elementwise over arrays of runs (the calibration fits evaluate many at once)."""
        if self.r_n is None:
            return np.asarray(params, dtype=np.float64)
        # Same operations, in the same order, as datablations' `scaling_law` so one bucket with
        # utility 1 reproduces it bit for bit.
        UN = np.minimum(params, self.d_to_n(unique_used))
        RN = np.maximum((params / UN) - 1, 0)
        return UN + UN * self.r_n * (1 - np.exp(-1 * RN / self.r_n))

    def params_depend_on_data(self, params: float, unique_used: float) -> bool:
        """True when the parameter term changes with the allocation: N > D_to_N(U_used)."""
        return self.r_n is not None and params > self.d_to_n(unique_used)

    def loss_gradient(self, params: float, effective_data: float, unique_used: float) -> tuple[float, float]:
        """(dL/dD_eff, dL/dU_used) at fixed N; the second is 0 unless N > D_to_N(U_used)."""
        d_data = -self.beta * self.B * effective_data ** (-self.beta - 1)
        if not self.params_depend_on_data(params, unique_used):
            return d_data, 0.0
        un = float(self.d_to_n(unique_used))
        x = (params / un - 1) / self.r_n
        decay = -math.expm1(-x)  # 1 - exp(-x)
        n_eff = un + un * self.r_n * decay
        dneff_dun = (1 + self.r_n) * decay - self.r_n * x * math.exp(-x)
        dun_du = (self.beta / self.alpha) * un / unique_used
        return d_data, -self.alpha * self.A * n_eff ** (-self.alpha - 1) * dneff_dun * dun_du

    def loss(self, params: float, effective_data: float, unique_used: float) -> float:
        """Predicted loss L = E + A / N'^alpha + B / D_eff^beta."""
        if effective_data <= 0 or unique_used <= 0:
            return math.inf
        n_eff = self.effective_params(params, unique_used)
        return self.E + self.A / n_eff**self.alpha + self.B / effective_data**self.beta


def effective_tokens(tokens: np.ndarray | float, unique: np.ndarray | float, r_d: float = R_D_STAR) -> np.ndarray:
    """D' = D if D <= U else U + U*R_D*(1 - exp(-(D/U - 1)/R_D)) (Muennighoff et al. 2023, eq. 5).

    Buckets with U = 0 have nothing to give (D' = 0).
    """
    D = np.asarray(tokens, dtype=np.float64)
    U = np.asarray(unique, dtype=np.float64)
    safe_u = np.where(U > 0, U, 1.0)
    RD = np.maximum((D / safe_u) - 1, 0)
    repeated = U + U * r_d * (1 - np.exp(-1 * RD / r_d))
    return np.where(U > 0, np.where(D <= U, D, repeated), 0.0)


def repeat_value(tokens: np.ndarray | float, unique: np.ndarray | float, r_d: float = R_D_STAR) -> np.ndarray:
    """dD'/dD: value of one more token relative to a fresh one (1 within the first epoch, then decaying)."""
    D = np.asarray(tokens, dtype=np.float64)
    U = np.asarray(unique, dtype=np.float64)
    safe_u = np.where(U > 0, U, 1.0)
    return np.where(D < U, 1.0, np.exp(-np.maximum(D / safe_u - 1, 0) / r_d))


# Muennighoff et al. 2023, C4 fit (datablations README, "Parametric Fit"):
# a, b, e, alpha, beta, rd_star, rn_star = 6.255414, 7.3049974, 0.6254804, 0.3526596, 0.3526596,
# 15.387756, 5.309743 with A = exp(a), B = exp(b), E = exp(e).
DATABLATIONS = Law(
    name="datablations",
    A=float(np.exp(6.255414)),
    B=float(np.exp(7.3049974)),
    E=float(np.exp(0.6254804)),
    alpha=0.3526596,
    beta=0.3526596,
    r_d=R_D_STAR,
    r_n=R_N_STAR,
    source="Muennighoff et al. 2023, Scaling Data-Constrained Language Models (C4 fit)",
    # The span of the 182 runs R_D* and R_N* were fitted on (curate/planner/data/datablations_runs.json;
    # the paper's abstract: "up to 900 billion training tokens and 9 billion parameter models"):
    # 7.1M-8.67B parameters, 100M-900B tokens, 1-9000 epochs.
    fit_range={"params": [7098752.0, 8.67e9], "tokens": [1e8, 9e11], "epochs": [1.0, 9000.0]},
)

# Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", their refit of Hoffmann
# et al.'s approach 3: A = 482.01, B = 2085.43, E = 1.82, alpha = 0.3478, beta = 0.3658; the
# extra digits below are those given in issue 5.
CHINCHILLA = Law(
    name="chinchilla",
    A=482.006,
    B=2085.434,
    E=1.81686,
    alpha=0.34781,
    beta=0.36585,
    r_d=R_D_STAR,
    r_n=None,
    source="Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt (refit of Hoffmann et al. 2022)",
    # Hoffmann et al. 2022 (abstract): "over 400 language models ranging from 70 million to over
    # 16 billion parameters on 5 to 500 billion tokens"; none of them repeated data.
    fit_range={"params": [7e7, 1.6e10], "tokens": [5e9, 5e11], "epochs": [None, 1.0]},
)

LAWS: dict[str, Law] = {law.name: law for law in (DATABLATIONS, CHINCHILLA)}


def get_law(name: str) -> Law:
    """Look a law up by name; ValueError listing the known names otherwise."""
    try:
        return LAWS[name]
    except KeyError:
        raise ValueError(f"unknown law '{name}' (known: {', '.join(sorted(LAWS))})") from None
