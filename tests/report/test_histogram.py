"""The report's histograms and cut-offs on hand-made values: whole-unit bins, clipped tails that
keep every document, cut-offs drawn or listed, and the cut-offs read from a run's manifest."""

from __future__ import annotations

import numpy as np
import pytest

from curate.run_report.histogram import Constant, Histogram, histogram, nice_ticks
from curate.run_report.signals import Cutoff, SignalSpec, find_signals
from curate.run_report.svg import tick_labels


def _hist(values: list[float] | np.ndarray, reasons: list[str] | None = None, integer: bool = False,
          cutoffs: list[Cutoff] | None = None, rule_reasons: set[str] | None = None) -> Histogram:
    x = np.asarray(values, dtype=float)
    why = np.array(reasons if reasons is not None else [""] * len(x), dtype=object)
    h = histogram(SignalSpec("s", list(cutoffs or []), set(rule_reasons or ())), x, why, integer)
    assert isinstance(h, Histogram)
    return h


def test_integer_signals_get_one_bin_per_unit() -> None:
    values = [0, 1, 1, 2, 5, 8, 8, 8]
    h = _hist(values, integer=True)
    assert h.edges.tolist() == [v - 0.5 for v in range(10)]
    assert h.counts["kept"].tolist() == np.bincount(values, minlength=9).tolist()
    assert h.underflow is None and h.overflow is None


def test_a_long_tail_is_clipped_into_the_last_bin_and_every_document_counted() -> None:
    rng = np.random.default_rng(0)
    values = np.r_[rng.uniform(0, 1, 1000), [1000.0] * 5, [np.nan] * 3]
    h = _hist(values)
    assert h.overflow == 1000.0 and h.edges[-1] == pytest.approx(np.quantile(values[:1005], 0.99))
    assert h.total == 1005 and h.undefined == 3
    assert h.counts["kept"][-1] >= 5
    low = _hist(np.r_[[-1000.0] * 5, rng.uniform(0, 1, 1000)])
    assert low.underflow == -1000.0 and low.total == 1005 and low.counts["kept"][0] >= 5


def test_reasons_split_the_series() -> None:
    h = _hist([0.1, 0.2, 0.3, 0.9], ["", "set:rule", "other:x", ""], rule_reasons={"set:rule"})
    assert [int(h.counts[s].sum()) for s in h.counts] == [2, 1, 1]


def test_cutoffs_just_outside_widen_the_range_far_ones_are_listed() -> None:
    near, far = Cutoff(1.5, "max", "max"), Cutoff(50.0, "max", "max")
    h = _hist(np.linspace(0, 1, 50), cutoffs=[near, far])
    assert h.edges[-1] == 1.5 and h.cutoffs == [near] and h.off_scale == [far]


def test_one_value_for_every_document_is_a_constant() -> None:
    c = histogram(SignalSpec("s"), np.array([0.0, 0.0, np.nan]), np.array(["", "", ""], dtype=object), False)
    assert c == Constant("s", 0.0, 2, 1)
    assert histogram(SignalSpec("s"), np.array([np.nan]), np.array([""], dtype=object), False) is None


def test_nice_ticks() -> None:
    assert nice_ticks(0, 1).tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert nice_ticks(3, 91).tolist() == [25, 50, 75]
    assert nice_ticks(0, 3, integer=True).tolist() == [0, 1, 2, 3]
    assert nice_ticks(0.00749, 0.328).tolist() == [0.1, 0.2, 0.3]


def test_cutoffs_come_from_the_resolved_parameters_and_bucket_files() -> None:
    specs = [{"name": "h", "stage": "heuristics", "params": {"sets": ["gopher_quality"],
                                                             "gopher_quality": {"min_words": 7}}},
             {"name": "p", "stage": "no_such_plugin_stage", "params": {}},
             {"name": "t", "stage": "token_count", "params": {}}]
    buckets = {"score_column": "quality_score", "cuts": [0.8, 0.5], "buckets": [{"name": "high"}, {"name": "mid"},
                                                                              {"name": "low"}]}
    signals = find_signals(specs, [buckets])
    words = signals.specs["gopher_quality_word_count"]
    assert words.cutoffs == [Cutoff(7, "min", "min"), Cutoff(100_000, "max", "max")]  # the set's default max
    assert words.reasons == {"gopher_quality:word_count"}
    assert signals.rule_column("gopher_quality:stop_words") == "gopher_quality_stop_words"
    assert [c.describe() for c in signals.specs["quality_score"].cutoffs] == ["high ≥ 0.8", "mid ≥ 0.5"]
    assert signals.produced is not None and "n_tokens" in signals.produced
    assert "gopher_quality_reject" in signals.produced


def test_tick_labels_stay_apart_on_a_narrow_range() -> None:
    ticks = nice_ticks(0.99869, 1.0)
    assert ticks.tolist() == [0.999, 0.9995, 1.0]
    assert tick_labels(ticks) == ["0.999", "0.9995", "1"]  # three digits would print 1 twice
    assert tick_labels(nice_ticks(0, 12_000)) == ["0", "5k", "10k"]
