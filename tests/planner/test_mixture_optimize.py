"""The optimiser over proportions: equal to a brute-force grid search for 2 and 3 domains, within
every domain's token cap, repetition discounted by D'; RegMix's top-k search for regressors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from curate.errors import InfeasibleError
from curate.planner.laws import effective_tokens
from curate.planner.mixture.exponential import ExponentialModel
from curate.planner.mixture.law import MixtureLaw
from curate.planner.mixture.optimize import optimize_mixture, project_capped_simplex
from curate.planner.mixture.regression import LinearModel
from curate.planner.mixture.runs import Target


def exp_law(t: list[list[float]], c=(2.0, 1.5), k=(1.0, 0.7), weights=(0.6, 0.4)) -> MixtureLaw:
    m = len(t[0])
    domains = tuple(f"d{j}" for j in range(m))
    validation = tuple(f"v{i}" for i in range(len(t)))
    model = ExponentialModel(domains, validation, np.array(weights[:len(t)]), np.array(c[:len(t)]),
                             np.array(k[:len(t)]), np.array(t, dtype=float))
    return MixtureLaw(model, Target("t", dict(zip(validation, weights))), {d: [0.0, 1.0] for d in domains})


def grid_best(law: MixtureLaw, step: float, tokens=None, unique=None, max_epochs=None, r_d=15.387756):
    """Brute force over the simplex on a grid (independent of the optimiser's code path): the
    loss at effective shares D'/sum D' computed here from the datablations formula."""
    m = len(law.domains)
    ticks = np.round(np.arange(0, 1 + step / 2, step), 12)
    pts = np.array([p + (1 - sum(p),) for p in itertools.product(ticks, repeat=m - 1) if sum(p) <= 1 + 1e-12])
    pts = np.clip(pts, 0, 1)
    if unique is not None:
        U = np.array(unique, dtype=float)
        if max_epochs is not None:
            pts = pts[(pts * tokens <= max_epochs * U * (1 + 1e-12)).all(axis=1)]
        D = pts * tokens
        RD = np.maximum(D / U - 1, 0)
        d_eff = np.where(D <= U, D, U + U * r_d * (1 - np.exp(-RD / r_d)))
        r = d_eff / d_eff.sum(axis=1, keepdims=True)
    else:
        r = pts
    loss = law.predict(r)
    i = int(np.argmin(loss))
    return pts[i], float(loss[i])


@pytest.mark.parametrize("t", [
    [[-2.0, 2.0], [1.0, -1.0]],  # an interior optimum
    [[-3.0, 3.0], [-1.0, 1.0]],  # a vertex
])
def test_two_domains_equal_a_fine_grid(t):
    law = exp_law(t)
    plan = optimize_mixture(law)
    x, best = grid_best(law, 1e-5)
    assert plan.predicted_loss <= best + 1e-9
    np.testing.assert_allclose(plan.shares, x, atol=2e-5)


def test_three_domains_equal_a_fine_grid():
    law = exp_law([[-2.0, 1.0, 0.5], [1.5, -2.5, 0.2]], weights=(0.5, 0.5))
    plan = optimize_mixture(law)
    x, best = grid_best(law, 1e-3)
    assert plan.predicted_loss <= best + 1e-9
    np.testing.assert_allclose(plan.shares, x, atol=2e-3)


@pytest.mark.parametrize("max_epochs", [1.0, 4.0])
def test_three_domains_with_caps_and_repetition_equal_a_fine_grid(max_epochs):
    """Domain d0 (the one the law likes) is small: capped at max_epochs x its unique tokens, its
    repeats discounted; the planned shares respect every cap and match the grid's optimum."""
    law = exp_law([[-3.0, 0.5, 1.0], [-1.0, -0.5, 0.5]], weights=(0.7, 0.3))
    tokens, unique = 1e9, [1e8, 2e9, 5e9]
    plan = optimize_mixture(law, tokens, dict(zip(law.domains, unique)), max_epochs=max_epochs)
    x, best = grid_best(law, 1e-3, tokens, unique, max_epochs)
    assert plan.predicted_loss <= best + 1e-9
    np.testing.assert_allclose(plan.shares, x, atol=2e-3)
    assert (plan.shares * tokens <= max_epochs * np.array(unique) * (1 + 1e-9)).all()
    d = plan.to_dict()["domains"]["d0"]
    assert d["epochs"] <= max_epochs + 1e-9
    np.testing.assert_allclose(d["effective_tokens"], effective_tokens(d["tokens"], 1e8))


def test_every_cap_respected_with_many_domains():
    rng = np.random.default_rng(0)
    m = 8
    law = exp_law([list(rng.normal(0, 2, m)), list(rng.normal(0, 2, m))])
    unique = dict(zip(law.domains, rng.uniform(1e7, 5e8, m)))
    for search in ("slsqp", "topk"):
        plan = optimize_mixture(law, 1e9, unique, max_epochs=2.0, search=search, candidates=20_000)
        U = np.array([unique[d] for d in law.domains])
        assert (plan.shares * 1e9 <= 2.0 * U * (1 + 1e-9)).all()
        assert abs(plan.shares.sum() - 1) < 1e-9


def test_infeasible_caps_refused():
    law = exp_law([[-1.0, 1.0]])
    with pytest.raises(InfeasibleError, match="cannot supply"):
        optimize_mixture(law, 1e9, {"d0": 1e8, "d1": 1e8}, max_epochs=4.0)


def test_top_k_is_seeded_and_near_the_linear_optimum():
    """RegMix's search on a linear law: reproducible for a seed, and its loss within 2% of the
    exact minimum (a vertex: the domain with the smallest beta, capped)."""
    law = MixtureLaw(LinearModel(("a", "b", "c"), np.array([3.0, 2.5, 2.8])), Target("t", {"t": 1.0}),
                     {d: [0.0, 1.0] for d in "abc"})
    one = optimize_mixture(law, search="topk", seed=3, candidates=20_000)
    two = optimize_mixture(law, search="topk", seed=3, candidates=20_000)
    np.testing.assert_array_equal(one.shares, two.shares)
    assert one.predicted_loss <= 2.5 * 1.02
    exact = optimize_mixture(law)  # SLSQP on the linear law: the vertex b
    np.testing.assert_allclose(exact.shares, [0, 1, 0], atol=1e-9)


def test_extrapolation_warns_naming_the_domain():
    law = exp_law([[-3.0, 3.0]])
    law = MixtureLaw(law.model, law.target, {"d0": [0.0, 0.5], "d1": [0.5, 1.0]})
    plan = optimize_mixture(law)
    assert any("domain 'd0'" in w and "above the largest" in w for w in plan.warnings)


def test_projection_onto_the_capped_simplex():
    cap = np.array([0.2, 1.0, 0.5])
    x = project_capped_simplex(np.array([5.0, 0.0, 0.0]), cap)
    np.testing.assert_allclose(x.sum(), 1.0)
    assert (x <= cap + 1e-12).all() and x[0] == pytest.approx(0.2)
