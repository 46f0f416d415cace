"""The overfitting guard and the default epoch cap (issue 29): read from the runs a law was fitted on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curate.errors import InfeasibleError
from curate.planner import Bucket, calibrate, plan, read_law, runs_from_rows
from curate.planner.builtin import datablations_runs
from curate.planner.guard import evidence_at, series_from_runs

HIGH = [Bucket("high", 1e9, 2.0), Bucket("mid", 5e9, 1.0), Bucket("low", 2e10, 0.5)]


def test_datablations_series_show_where_repetition_stopped_helping() -> None:
    series = series_from_runs(datablations_runs())
    by = {(s.params, s.unique_tokens): s for s in series}
    # 146.5M parameters on 100M unique tokens: best at 59 epochs, worse at 75, 140, ... (their runs)
    s = by[(146.5e6, 1e8)]
    assert s.helped_up_to == 59.0 and s.epochs[:6] == (15.0, 27.0, 39.0, 59.0, 75.0, 140.0)
    rises = sum(b > a for s in series for a, b in zip(s.losses, s.losses[1:], strict=False))
    assert rises == 24  # adjacent pairs at one N and U where more epochs gave a higher loss
    # at 5.6B parameters the comparable series (2.81B and 4.25B) saw repetition help up to 13.75 epochs
    ev = evidence_at(series, 5.6e9, "datablations' 182 runs")
    assert ev.epochs == 13.75 and sorted({s.params for s in ev.series}) == [2.81e9, 4.2465e9]


def test_plan_beyond_what_the_runs_saw_is_warned_with_the_numbers() -> None:
    """The issue's case: 19 epochs for a 5.6B model, where datablations saw repetition help up to 13.75."""
    N, epochs = 5.6e9, 19.0
    p = plan([Bucket("only", 1e10, 1.0)], 6 * N * epochs * 1e10, params=N, max_epochs=math.inf, ranges=False)
    assert p.buckets[0].epochs == pytest.approx(epochs)
    warned = [w for w in p.warnings if "seen to lower the loss" in w]
    assert len(warned) == 1 and "19 epochs" in warned[0] and "13.75" in warned[0] and "2.81B-4.25B" in warned[0]
    assert p.extra["max_epochs_default"] is None  # the cap was given (none)


def test_default_cap_comes_from_the_runs_and_is_in_the_plan() -> None:
    p = plan(HIGH, 1e21, ranges=False)
    assert p.max_epochs == 116.0  # at 2.57B parameters: the 1.1B-parameter series improved up to 116 epochs
    assert p.extra["max_epochs_default"]["epochs"] == 116.0 and "1.1B" in p.extra["max_epochs_default"]["from"]
    assert max(b.epochs for b in p.buckets) <= 116.0
    assert not [w for w in p.warnings if "seen to lower the loss" in w]
    free = plan(HIGH, 1e21, max_epochs=math.inf, ranges=False)
    assert free.max_epochs is None and free.params == pytest.approx(p.params, rel=1e-9)  # the cap did not bind


def _overfitting_rows() -> list[dict]:
    """Single-pool runs at 100M parameters whose loss falls to 4 epochs, then rises (planted overfitting)."""
    rows = []
    for u in (1e8, 4e8):
        for e, loss in ((1, 4.10), (2, 3.90), (4, 3.82), (8, 3.86), (16, 3.95)):
            rows.append({"name": f"U{u:.0e}-{e}ep", "params": 1e8, "tokens": u * e, "unique_tokens": u,
                         "loss": loss * (1.0 if u == 1e8 else 0.93)})
    return rows


def test_planted_overfitting_in_a_calibrated_law_caps_and_warns(tmp_path: Path) -> None:
    cal = calibrate(runs_from_rows(_overfitting_rows()), "repetition", bootstrap=0, profile=False)
    doc = cal.to_dict()
    assert [s["epochs"] for s in doc["repetition_series"]] == [[1, 2, 4, 8, 16]] * 2
    law_path = tmp_path / "law.json"
    law_path.write_text(json.dumps(doc))
    law = read_law(law_path)
    assert [s.helped_up_to for s in law.series] == [4.0, 4.0]
    buckets = [Bucket("web", 1e9, 1.0)]
    capped = plan(buckets, 6 * 1e8 * 3e9, params=1e8, law=law, ranges=False)  # 3 epochs: within what was seen
    assert capped.max_epochs == 4.0 and not [w for w in capped.warnings if "seen to lower" in w]
    with pytest.raises(InfeasibleError, match="the default --max-epochs is the 4 epochs"):
        plan(buckets, 6 * 1e8 * 1e10, params=1e8, law=law, ranges=False)  # 10 epochs needed
    over = plan(buckets, 6 * 1e8 * 1e10, params=1e8, law=law, max_epochs=20.0, ranges=False)
    warned = [w for w in over.warnings if "seen to lower the loss" in w]
    assert len(warned) == 1 and "10 epochs" in warned[0] and "beyond the 4 " in warned[0]


def test_law_without_series_caps_at_its_fit_range() -> None:
    cal = calibrate(runs_from_rows(_overfitting_rows()), "repetition", bootstrap=0, profile=False)
    doc = cal.to_dict()
    del doc["repetition_series"]  # a law.json written before the guard existed
    from curate.planner.lawfile import law_from_dict

    law = law_from_dict(doc)
    p = plan([Bucket("web", 1e9, 1.0)], 6 * 1e8 * 3e9, params=1e8, law=law, ranges=False)
    assert p.max_epochs == 16.0 and "fitted up to" in p.extra["max_epochs_default"]["from"]


def test_series_need_two_epoch_counts_and_average_seeds() -> None:
    rows = [{"params": 1e8, "tokens": 1e9 * e, "unique_tokens": 1e9, "loss": loss, "seed": s}
            for e, loss, s in ((1, 4.0, 0), (1, 4.2, 1), (2, 3.9, 0))]
    rows.append({"params": 2e8, "tokens": 1e9, "unique_tokens": 1e9, "loss": 3.5})  # one epoch count: no series
    (s,) = series_from_runs(runs_from_rows(rows))
    assert s.epochs == (1.0, 2.0) and s.losses == pytest.approx((4.1, 3.9))
    assert np.isclose(s.helped_up_to, 2.0)
