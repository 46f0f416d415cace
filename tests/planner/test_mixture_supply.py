"""A domain's effective tokens as a function of its tokens: the closed form over knots equals the
budget planner's water-filling evaluated bucket by bucket, and its slope is the threshold lambda."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.planner.budget import allocate
from curate.planner.laws import effective_tokens
from curate.planner.mixture.supply import DomainSupply


def _water_filled(U, w, rd, cap, D) -> float:
    tokens, _ = allocate(U, w, D, cap, rd)
    return float((w * effective_tokens(tokens, U, rd)).sum())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000), cap=st.sampled_from([None, 0.5, 1.0, 2.0, 4.0, 40.0]))
def test_effective_tokens_equal_water_filling(n: int, seed: int, cap) -> None:
    rng = np.random.default_rng(seed)
    U = rng.uniform(1e6, 1e8, n)
    w = rng.choice([0.0, 0.5, 1.0, 1.0, 2.0], n)
    if not (w > 0).any():
        w[0] = 1.0
    rd = rng.uniform(2.0, 40.0, n)
    s = DomainSupply.build("d", [f"b{i}" for i in range(n)], U, w, rd, cap)
    top = s.capacity if np.isfinite(s.capacity) else 60 * U.sum()
    D = np.concatenate([rng.uniform(0, top, 30), [0.0, top, U.sum(), U.min()]])
    D = D[D <= top]
    got = s.effective(D)
    want = [_water_filled(U, w, rd, cap, d) for d in D]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6 * U.sum())
    # the slope is lambda (central differences away from the knots)
    for d in rng.uniform(0.05 * top, 0.95 * top, 5):
        h = 1e-4 * U.sum()
        if np.any(np.abs(s.knots_d - d) < 2 * h):
            continue
        slope = (_water_filled(U, w, rd, cap, d + h) - _water_filled(U, w, rd, cap, d - h)) / (2 * h)
        assert float(s.marginal(d)) == pytest.approx(slope, rel=1e-5, abs=1e-9)


def test_allocation_and_capacity() -> None:
    s = DomainSupply.build("web", ["web/high", "web/low"], [1e8, 4e8], [1.0, 1.0], None, 4.0)
    assert s.capacity == pytest.approx(2e9)
    tokens = s.allocate(1e9)
    assert tokens.sum() == pytest.approx(1e9)
    np.testing.assert_allclose(tokens / np.array([1e8, 4e8]), 2.0)  # equal utilities: equal epochs
    assert float(s.effective(1e9)) == pytest.approx(float(effective_tokens(2e8, 1e8).sum() + effective_tokens(8e8, 4e8)))
    empty = DomainSupply.build("none", [], [], [], None, 4.0)
    assert empty.capacity == 0.0 and float(empty.effective(5.0)) == 0.0
