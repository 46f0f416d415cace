"""Phases: every bucket keeps its planned tokens, every phase gets its stretch of the run, an
upsampled bucket weighs its factor more in its phase (the ratio checked between any two buckets),
and bad phase lists are refused naming the phase."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.errors import ConfigError, InfeasibleError
from curate.planner.phases import ScheduledBucket, parse_phases, schedule


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6), phases=st.integers(1, 4))
def test_schedule_keeps_totals_and_applies_factors(seed: int, n: int, phases: int) -> None:
    rng = np.random.default_rng(seed)
    buckets = [ScheduledBucket(f"d{i % 2}/q{i}", float(rng.uniform(1e6, 1e9)), f"d{i % 2}", f"q{i}") for i in range(n)]
    untils = np.sort(rng.choice(np.arange(1, 20), phases - 1, replace=False) / 20).tolist() + [1.0]
    specs = [{"until": u} | ({"upsample": {buckets[0].quality: float(rng.uniform(0.5, 5))}} if k % 2 else {})
             for k, u in enumerate(untils)]
    got = schedule(buckets, parse_phases(specs))
    total = sum(b.tokens for b in buckets)
    start = 0.0
    for p in got:
        assert sum(p.tokens.values()) == pytest.approx((p.until - start) * total, rel=1e-9)
        start = p.until
    for b in buckets:
        assert sum(p.tokens[b.name] for p in got) == pytest.approx(b.tokens, rel=1e-9)
    # between two phases, bucket 0's weight relative to any other bucket moves by the ratio of its factors
    if n > 1 and len(got) > 1:
        f = [s.get("upsample", {}).get(buckets[0].quality, 1.0) for s in specs]
        for other in buckets[1:]:
            r = [p.tokens[buckets[0].name] / p.tokens[other.name] for p in got]
            assert r[1] / r[0] == pytest.approx(f[1] / f[0], rel=1e-6)


def test_bad_phases_refused() -> None:
    buckets = [ScheduledBucket("web/high", 1e9, "web", "high"), ScheduledBucket("web/low", 3e9, "web", "low")]
    for bad, match in (([], "non-empty"), ([{"until": 0.5}], "end at until: 1.0"),
                       ([{"until": 1.0, "upsample": {"high": -1}}], "upsample.high"),
                       ([{"until": 1.0, "proportions": {"web": 0.5}}], "sum to 1"),
                       ([{"until": 1.0, "after": 2}], "unknown key"),
                       ([{"until": 1.0, "upsample": {"a": 1}, "proportions": {"web": 1}}], "not both")):
        with pytest.raises(ConfigError, match=match):
            parse_phases(bad)
    with pytest.raises(InfeasibleError, match="no bucket with tokens"):
        schedule(buckets, parse_phases([{"until": 0.5}, {"until": 1.0, "upsample": {"web": 0}}]))
