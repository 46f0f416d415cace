"""Planning domains and quality together: the planned mixture equals a brute-force grid for 2 and
3 domains under caps (with quality buckets water-filled inside each domain and the tokens lost to
repetition charged), every cap holds, phases reorder without changing totals, refusals apply."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from curate.errors import ConfigError, InfeasibleError
from curate.planner.mixture.exponential import ExponentialModel
from curate.planner.mixture.law import MixtureLaw
from curate.planner.mixture.plan import plan_mixture
from curate.planner.mixture.regression import LinearModel
from curate.planner.mixture.runs import Target

# datablations' C4 fit (Muennighoff et al. 2023, datablations README "Parametric Fit"), written out
# here so that the brute force below does not read curate's constants
B, BETA, R_D = math.exp(7.3049974), 0.3526596, 15.387756
QUALITIES = (("high", 0.3, 1.5), ("low", 0.7, 1.0))  # (name, share of the domain's tokens, utility)


def exp_law(t, c=(2.0, 1.5), k=(1.0, 0.7), weights=(0.6, 0.4), draws=()) -> MixtureLaw:
    m = len(t[0])
    domains = tuple(f"d{j}" for j in range(m))
    validation = tuple(f"v{i}" for i in range(len(t)))
    model = ExponentialModel(domains, validation, np.array(weights[:len(t)]), np.array(c[:len(t)]),
                             np.array(k[:len(t)]), np.array(t, dtype=float))
    return MixtureLaw(model, Target("t", dict(zip(validation, weights))), {d: [0.0, 1.0] for d in domains},
                      draws=tuple(draws))


def buckets_doc(unique: list[float], qualities=QUALITIES) -> dict:
    return {"buckets": [{"name": f"d{j}/{q}", "domain": f"d{j}", "quality": q, "unique_tokens": u * f, "utility": w}
                        for j, u in enumerate(unique) for q, f, w in qualities]}


def d_prime(D, U):
    RD = np.maximum(D / U - 1, 0)
    return np.where(D <= U, D, U + U * R_D * (1 - np.exp(-RD / R_D)))


def domain_value(D: np.ndarray, U: float, max_epochs: float) -> np.ndarray:
    """max over the split of D between the domain's two buckets of sum w D' (concave in the split:
    a ternary search inside the split's feasible interval, all token counts at once)."""
    (_, f1, w1), (_, f2, w2) = QUALITIES
    U1, U2 = U * f1, U * f2
    safe = np.maximum(D, 1.0)
    lo = np.clip(1 - max_epochs * U2 / safe, 0, 1)
    hi = np.clip(max_epochs * U1 / safe, 0, 1)

    def value(f):
        return w1 * d_prime(D * f, U1) + w2 * d_prime(D * (1 - f), U2)

    a, b = lo.copy(), hi.copy()
    for _ in range(200):
        m1, m2 = a + (b - a) / 3, b - (b - a) / 3
        left = value(m1) < value(m2)
        a, b = np.where(left, m1, a), np.where(left, b, m2)
    return np.where(lo <= hi + 1e-12, value((a + b) / 2), -np.inf)


def grid_best(law: MixtureLaw, step: float, tokens: float, unique: list[float], max_epochs: float):
    m = len(unique)
    ticks = np.round(np.arange(0, 1 + step / 2, step), 12)
    E = [domain_value(ticks * tokens, U, max_epochs) for U in unique]  # per domain, at every tick
    idx = np.array([p for p in itertools.product(range(len(ticks)), repeat=m - 1) if ticks[list(p)].sum() <= 1 + 1e-12])
    last = np.rint((1 - ticks[idx].sum(axis=1)) / step).astype(int)
    idx = np.column_stack([idx, last])
    pts = ticks[idx]
    eff = np.column_stack([E[j][idx[:, j]] for j in range(m)])
    feasible = np.isfinite(eff).all(axis=1)
    pts, eff = pts[feasible], eff[feasible]
    S = eff.sum(axis=1)
    loss = law.predict(eff / S[:, None]) + B * (S ** -BETA - tokens ** -BETA)
    i = int(np.argmin(loss))
    return pts[i], float(loss[i])


def _plan(law, unique, tokens=1e10, max_epochs=4.0, **kw):
    return plan_mixture(law, buckets_doc(unique), compute=6 * 1e9 * tokens, tokens=tokens, max_epochs=max_epochs,
                        allow_extrapolation=True, ranges=False, **kw)


def _shares(p) -> np.ndarray:
    return np.array([v["share"] for v in p.extra["domains"].values()])


@pytest.mark.parametrize("t,unique", [
    ([[-2.0, 2.0], [1.0, -1.0]], [1e9, 3e10]),  # the law likes d0, which must repeat
    ([[-3.0, 3.0], [-1.0, 1.0]], [5e8, 3e10]),  # d0 capped at 4 epochs
])
def test_two_domains_equal_a_fine_grid(t, unique):
    law = exp_law(t)
    p = _plan(law, unique)
    x, best = grid_best(law, 1e-4, 1e10, unique, 4.0)
    assert p.predicted_loss <= best + 1e-7
    np.testing.assert_allclose(_shares(p), x, atol=2e-4)


def test_three_domains_equal_a_fine_grid():
    law = exp_law([[-2.0, 1.0, 0.5], [1.5, -2.5, 0.2]], weights=(0.5, 0.5))
    unique = [6e8, 1.5e9, 3e10]
    p = _plan(law, unique)
    x, best = grid_best(law, 2e-3, 1e10, unique, 4.0)
    assert p.predicted_loss <= best + 1e-7
    np.testing.assert_allclose(_shares(p), x, atol=2e-3)


def test_every_token_cap_holds_and_the_loss_is_its_parts():
    law = exp_law([[-3.0, 1.0, 2.0], [-1.0, -0.5, 1.5]], weights=(0.7, 0.3))
    unique = [3e8, 2e9, 3e10]
    for max_epochs in (1.0, 2.0, 4.0):
        p = _plan(law, unique, max_epochs=max_epochs)
        for b in p.buckets:
            assert b.tokens <= max_epochs * b.unique_tokens * (1 + 1e-9)
        assert sum(b.tokens for b in p.buckets) == pytest.approx(1e10, rel=1e-9)
        assert abs(_shares(p).sum() - 1) < 1e-12
        doc = p.to_dict()
        for d, entry in doc["domains"].items():
            assert entry["tokens"] == pytest.approx(sum(b["tokens"] for b in doc["buckets"] if b["domain"] == d),
                                                    rel=1e-9, abs=1e-3)
        # the predicted loss: the law at the effective shares plus the charge, recomputed here
        E = np.array([sum(b["utility"] * float(d_prime(b["tokens"], b["unique_tokens"])) for b in doc["buckets"]
                          if b["domain"] == d) for d in law.domains])
        S = E.sum()
        assert doc["law_loss"] == pytest.approx(float(law.predict(E / S)[0]), rel=1e-9)
        assert doc["repetition_charge"] == pytest.approx(B * (S ** -BETA - 1e10 ** -BETA), rel=1e-6, abs=1e-12)
        assert doc["predicted_loss"] == pytest.approx(doc["law_loss"] + doc["repetition_charge"], rel=1e-12)
    plain = plan_mixture(law, buckets_doc(unique, (("high", 0.3, 1.0), ("low", 0.7, 1.0))), compute=6e19,
                         tokens=1e10, max_epochs=4.0, ranges=False)
    assert plain.extra["repetition_charge"] > 0  # utility 1: d0 repeats at 4 epochs, those tokens are charged
    with pytest.raises(InfeasibleError):
        _plan(law, [1e8, 1e8, 1e8], max_epochs=4.0)


def test_quality_inside_a_domain_is_water_filled():
    """The better bucket of a domain repeats before the worse one gets its first epoch only when
    its repeats are worth more: epochs follow the budget planner's closed form."""
    law = exp_law([[-3.0, 3.0]])
    p = _plan(law, [2e9, 3e10], max_epochs=8.0)
    high, low = (next(b for b in p.buckets if b.name == f"d0/{q}") for q in ("high", "low"))
    assert high.epochs > low.epochs > 0
    if high.epochs < 8.0 - 1e-9:  # both inside their bounds: equal marginal values (utility x repeat value)
        assert high.marginal_value == pytest.approx(low.marginal_value, rel=1e-6)
    else:  # high at its cap is worth at least what low's next token is
        assert high.marginal_value >= low.marginal_value * (1 - 1e-9)


def test_phases_reorder_without_changing_totals():
    law = exp_law([[-2.0, 1.0, 0.5], [1.5, -2.5, 0.2]], weights=(0.5, 0.5))
    p = _plan(law, [6e8, 1.5e9, 3e10], phases=[{"until": 0.85}, {"until": 1.0, "upsample": {"high": 3}}])
    phases = p.extra["phases"]
    assert [ph["until"] for ph in phases] == [0.85, 1.0]
    assert phases[0]["tokens"] == pytest.approx(0.85e10, rel=1e-9)
    for b in p.buckets:
        assert sum(ph["buckets"][b.name] for ph in phases) == pytest.approx(b.tokens, rel=1e-9, abs=1e-3)
    # in the last phase every high bucket weighs 3x what it weighs in the first, relative to its domain's low
    for d in law.domains:
        ratio = [ph["buckets"][f"{d}/high"] / ph["buckets"][f"{d}/low"] for ph in phases if ph["buckets"][f"{d}/low"] > 0]
        if len(ratio) == 2:
            assert ratio[1] / ratio[0] == pytest.approx(3.0, rel=1e-9)
    assert phases[1]["qualities"]["high"]["share"] > phases[0]["qualities"]["high"]["share"]


def test_phases_with_proportions():
    law = exp_law([[-2.0, 1.0, 0.5], [1.5, -2.5, 0.2]], weights=(0.5, 0.5))
    unique = [6e8, 1.5e9, 3e10]
    given = [{"until": 0.5, "proportions": {"d0": 0.1, "d1": 0.2, "d2": 0.7}},
             {"until": 1.0, "proportions": {"d0": 0.3, "d1": 0.2, "d2": 0.5}}]
    p = _plan(law, unique, phases=given)
    np.testing.assert_allclose(_shares(p), [0.2, 0.2, 0.6], atol=1e-12)  # the schedule's average, not optimised
    for ph, spec in zip(p.extra["phases"], given):
        for d, share in spec["proportions"].items():
            assert ph["domains"][d]["share"] == pytest.approx(share, rel=1e-9)
    free = _plan(law, unique, phases=[{"until": 0.05, "proportions": {"d0": 0.0, "d1": 0.0, "d2": 1.0}}, {"until": 1.0}])
    assert free.extra["phases"][0]["domains"]["d2"]["share"] == pytest.approx(1.0)
    with pytest.raises(InfeasibleError, match="bucket 'd0/"):
        _plan(law, unique, phases=[{"until": 0.9, "proportions": {"d0": 1.0, "d1": 0.0, "d2": 0.0}}, {"until": 1.0}])
    with pytest.raises(ConfigError, match="until"):
        _plan(law, unique, phases=[{"until": 0.5}, {"until": 0.4}])
    with pytest.raises(ConfigError, match="names no bucket"):
        _plan(law, unique, phases=[{"until": 1.0, "upsample": {"gold": 2}}])


def test_refusals_of_issue_29_apply():
    law = exp_law([[-2.0, 2.0]])
    doc = buckets_doc([1e6, 1e6])
    with pytest.raises(InfeasibleError, match="not sensible"):
        plan_mixture(law, doc, compute=1e21, allow_extrapolation=False, ranges=False)
    p = plan_mixture(law, doc, compute=1e21, allow_extrapolation=True, ranges=False)
    assert p.extra["refusal"] and any("not a sensible plan" in w for w in p.warnings)


def test_extrapolation_warns_naming_the_domain_and_ranges_cover_the_plan():
    rng = np.random.default_rng(0)
    t = np.array([[-2.0, 1.0, 0.5], [1.5, -2.5, 0.2]])
    base = exp_law(t.tolist(), weights=(0.5, 0.5))
    draws = [base.model.__class__(**{**base.model.__dict__, "t": t + rng.normal(0, 0.1, t.shape)}) for _ in range(20)]
    law = MixtureLaw(base.model, base.target, {"d0": [0.0, 0.05], "d1": [0.0, 1.0], "d2": [0.0, 1.0]}, draws=draws)
    p = plan_mixture(law, buckets_doc([6e8, 1.5e9, 3e10]), compute=6e19, tokens=1e10, max_epochs=4.0)
    assert any("domain 'd0'" in w and "above the largest" in w for w in p.warnings)
    lo, hi = p.extra["ranges"]["predicted_loss"]
    assert lo <= p.predicted_loss <= hi
    for entry in p.extra["domains"].values():
        lo, hi = entry["share_range"]
        assert lo - 0.05 <= entry["share"] <= hi + 0.05
    assert all(b.epochs_range is not None for b in p.buckets)


def test_regressors_use_the_seeded_top_k_search():
    law = MixtureLaw(LinearModel(("d0", "d1", "d2"), np.array([3.0, 2.5, 2.8])), Target("t", {"t": 1.0}),
                     {d: [0.0, 1.0] for d in ("d0", "d1", "d2")})
    one = _plan(law, [1e9, 2e9, 3e10], candidates=20_000, seed=3)
    two = _plan(law, [1e9, 2e9, 3e10], candidates=20_000, seed=3)
    assert one.extra["search"] == "topk" and "RegMix" in one.extra["method"]
    np.testing.assert_array_equal(_shares(one), _shares(two))
    assert one.to_dict() == two.to_dict()


def test_buckets_without_domains_are_refused():
    law = exp_law([[-2.0, 2.0]])
    with pytest.raises(ConfigError, match="no 'domain'"):
        plan_mixture(law, {"buckets": [{"name": "high", "unique_tokens": 1e9}]}, compute=6e19, tokens=1e10)
    p = plan_mixture(law, {"buckets": [*buckets_doc([1e9, 3e10])["buckets"],
                                       {"name": "x/high", "domain": "x", "unique_tokens": 1e9}]},
                     compute=6e19, tokens=1e10, ranges=False)
    assert any("domain 'x'" in w for w in p.warnings)
    assert p.bucket("x/high").tokens == 0.0
