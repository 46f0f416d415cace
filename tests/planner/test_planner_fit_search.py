"""Fits that reach their minimum (issue 29): the global search in flat, multimodal valleys, profile
likelihood intervals, and the report of poorly determined constants.

The datablations numbers are theirs: the notebook's summed Huber 0.015825936570763588 at the
published R_D* = 15.387756, R_N* = 5.309743 (curate/planner/data/README.md), and the issue's
0.0158047 near R_D* ~ 95, R_N* ~ 1.7 and 0.0158074 where the old search stopped (47.0 / 2.33).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import huber

from curate.planner import DATABLATIONS, calibrate, runs_from_rows
from curate.planner.builtin import datablations_runs
from curate.planner.calibration import predict_log_loss
from curate.planner.lawfile import law_values
from curate.planner.optimize import global_minimum
from curate.planner.report import format_calibration

from .test_planner_calibrate import single_pool_rows


def summed_huber(runs, r_d: float, r_n: float) -> float:
    """datablations' objective, computed here from the planner's law and scipy's Huber."""
    values = {**law_values(DATABLATIONS), "r_d_star": r_d, "r_n_star": r_n}
    return float(huber(1e-3, predict_log_loss(values, runs) - np.log(runs.loss)).sum())


def test_datablations_runs_give_the_notebooks_objective_at_the_published_constants() -> None:
    runs = datablations_runs()
    assert len(runs) == 182
    assert summed_huber(runs, 15.387756, 5.309743) == pytest.approx(0.015825936570763588, rel=1e-6)


def test_repetition_fit_on_datablations_reaches_the_minimum_of_a_dense_grid() -> None:
    runs = datablations_runs()
    cal = calibrate(runs, "repetition", bootstrap=0, profile=False)
    found = cal.fit.objective * 1e-3 * len(runs)  # the fit's objective is the mean Huber / delta
    assert found == pytest.approx(summed_huber(runs, cal.fit.values["r_d_star"], cal.fit.values["r_n_star"]), rel=1e-12)
    assert found < 0.0158048 < 0.0158074 < 0.0158259  # below where the old search stopped, and the published fit
    assert cal.fit.values["r_d_star"] == pytest.approx(95.4, rel=0.01)
    assert cal.fit.values["r_n_star"] == pytest.approx(1.706, rel=0.01)
    assert cal.fit.checked and cal.fit.starts >= 6
    grid = [(a, b) for a in np.geomspace(1, 1e4, 60) for b in np.geomspace(0.1, 100, 60)]
    dense = min(summed_huber(runs, a, b) for a, b in grid)
    assert found <= dense


def test_old_single_start_search_stopped_short_on_datablations() -> None:
    """The search curate ran before (L-BFGS-B from the published constants and the best of a
    2..40 grid) ends in a local minimum near 47 / 2.3, higher than the global one."""
    runs = datablations_runs()
    log_loss = np.log(runs.loss)

    def f(x: np.ndarray) -> float:
        values = {**law_values(DATABLATIONS), "r_d_star": math.exp(x[0]), "r_n_star": math.exp(x[1])}
        return float(huber(1e-3, predict_log_loss(values, runs) - log_loss).sum())

    starts = [(15.387756, 5.309743), *itertools.product((2.0, 6.0, 15.0, 40.0), repeat=2)]
    scored = sorted(starts[1:], key=lambda s: f(np.log(s)))[:4]
    best = min((minimize(f, np.log(s), method="L-BFGS-B", bounds=[(math.log(0.05), math.log(1e4))] * 2)
                for s in [starts[0], *scored]), key=lambda r: r.fun)
    new = calibrate(runs, "repetition", bootstrap=0, profile=False)
    assert best.fun > new.fit.objective * 1e-3 * len(runs) * (1 + 1e-4)


def _valley(x: np.ndarray) -> np.ndarray:
    """A flat valley along v = 1.5 - 0.3 u (u, v: ln R_D*, ln R_N*) that falls gently towards
    u = ln 500, with ripples along it: local minima every ~2.5 in u (a factor 12 in R_D*), the lowest far beyond 40."""
    x = np.atleast_2d(x)
    u, v = x[:, 0], x[:, 1]
    return 50.0 * (v - 1.5 + 0.3 * u) ** 2 + 0.002 * (u - math.log(500.0)) ** 2 + 0.01 * (1 - np.cos(2.5 * u))


def test_flat_valley_synthetic_old_search_stops_short_new_reaches_the_dense_grid_minimum() -> None:
    bounds = [(math.log(0.05), math.log(1e4))] * 2

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        h = 1e-7
        f0 = float(_valley(x)[0])
        grad = np.array([(float(_valley(x + h * e)[0]) - float(_valley(x - h * e)[0])) / (2 * h) for e in np.eye(2)])
        return f0, grad

    old_grid = np.log(np.array(list(itertools.product((2.0, 6.0, 15.0, 40.0), repeat=2))))
    old_starts = [np.log([15.387756, 5.309743]), *old_grid[np.argsort(_valley(old_grid))[:4]]]
    old = min((minimize(value_and_gradient, s, jac=True, method="L-BFGS-B", bounds=bounds) for s in old_starts),
              key=lambda r: r.fun)
    u = np.linspace(*bounds[0], 1500)
    v = np.linspace(*bounds[1], 1500)
    dense = float(_valley(np.array(np.meshgrid(u, v)).reshape(2, -1).T).min())
    assert old.fun > dense + 1e-3  # stuck in a ripple near the starts
    grid = np.log(np.array(list(itertools.product(np.geomspace(0.5, 2000.0, 13), repeat=2))))
    new = global_minimum(_valley, value_and_gradient, grid, bounds, extra=[np.log([15.387756, 5.309743])])
    assert new.checked and new.fun <= dense
    assert math.exp(new.x[0]) > 100  # the minimum is far along the valley


def test_profile_intervals_contain_the_planted_values() -> None:
    truth = replace(DATABLATIONS, r_d=10.0, r_n=4.0)
    hits = {"r_d_star": 0, "r_n_star": 0}
    for rep in range(20):
        runs = runs_from_rows(single_pool_rows(truth, np.random.default_rng(2000 + rep)))
        cal = calibrate(runs, "repetition", bootstrap=0)
        for key, true in (("r_d_star", 10.0), ("r_n_star", 4.0)):
            lo, hi = cal.profile[key]
            assert lo < cal.fit.values[key] < hi
            hits[key] += lo <= true <= hi
    # nominal 95%; asymptotic, so lower with 36 runs: over 50 replicates of this design (seeds 3000-3049)
    # 88% for R_D* and 92% for R_N* (the bootstrap's: 90% and 88%)
    assert all(h >= 15 for h in hits.values()), hits


def test_poorly_determined_constants_are_reported() -> None:
    cal = calibrate(datablations_runs(), "repetition", bootstrap=20)
    doc = cal.to_dict()
    poorly = doc["poorly_determined"]
    assert "r_d_star" in poorly  # the valley in R_D* runs from about 7 to thousands
    lo, hi = doc["profile_intervals"]["r_d_star"]
    assert lo < 15.4 and hi > 1000 and hi / lo > 10
    lo, hi = doc["profile_intervals"]["r_n_star"]
    assert lo < cal.fit.values["r_n_star"] < hi
    text = format_calibration(doc)
    assert "poorly determined: r_d_star" in text and "profile 95%" in text
    well = calibrate(runs_from_rows(single_pool_rows(replace(DATABLATIONS, r_d=10.0, r_n=4.0),
                                                     np.random.default_rng(7))), "repetition", bootstrap=20)
    assert well.poorly_determined == {}
    assert "poorly determined" not in format_calibration(well.to_dict())
