"""The convexity statement of docs/planner.md, corrected (issue 29): N' is concave in U_used when
beta <= alpha (the built-in datablations law has alpha = beta), not in general."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from curate.planner import DATABLATIONS


def _second_differences(law, params: float, unique: np.ndarray) -> np.ndarray:
    n_eff = np.array([law.effective_params(params, float(u)) for u in unique])
    return n_eff[2:] - 2 * n_eff[1:-1] + n_eff[:-2]


def test_n_prime_is_concave_in_u_used_when_beta_is_at_most_alpha() -> None:
    unique = np.linspace(1e8, 3e9, 400)  # all below the unique data a 5B model justifies
    assert DATABLATIONS.alpha == DATABLATIONS.beta
    assert (_second_differences(DATABLATIONS, 5e9, unique) <= 1e-6 * 5e9).all()
    lower_beta = replace(DATABLATIONS, beta=0.25)
    assert (_second_differences(lower_beta, 5e9, unique) <= 1e-6 * 5e9).all()


def test_n_prime_is_not_concave_when_beta_exceeds_alpha() -> None:
    """D_to_N(U) grows like U^(beta/alpha): convex for beta > alpha, and N' follows it."""
    steep = replace(DATABLATIONS, beta=2 * DATABLATIONS.alpha)
    unique = np.linspace(1e3, 1e5, 400)
    params = 1e13  # far above what these unique tokens justify: N' is in its decaying regime
    assert all(steep.params_depend_on_data(params, float(u)) for u in unique)
    assert (_second_differences(steep, params, unique) > 0).all()  # convex here, not concave
