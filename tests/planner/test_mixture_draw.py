"""RegMix's proxy-run mixtures: bounds, sparsity, the MINIMUM grid, exact sums, distinct draws,
seeded; the natural distribution from a buckets.json with domains."""

from __future__ import annotations

import numpy as np
import pytest

from curate.errors import ConfigError, InfeasibleError
from curate.planner.mixture.draw import MAX_USAGE, MINIMUM, draw_mixtures, natural_distribution

# RegMix's token distribution of its 17 Pile domains (synthesize_mixture.py, get_token_distribution)
PILE = {"arxiv": 0.113285273, "freelaw": 0.079608651, "nih_exporter": 0.003913491, "pubmed_central": 0.185375901,
        "wikipedia_en": 0.051081359, "dm_mathematics": 0.015962925, "github": 0.101750772, "philpapers": 0.003707518,
        "stackexchange": 0.066529351, "enron_emails": 0.001750772, "gutenberg_pg_19": 0.027085479,
        "pile_cc": 0.236869207, "ubuntu_irc": 0.01184346, "europarl": 0.007929969, "hackernews": 0.008032956,
        "pubmed_abstracts": 0.038825953, "uspto_backgrounds": 0.046446962}


def test_draws_follow_regmix():
    mixes = draw_mixtures(PILE, 512, seed=1)
    P = np.array([[m[d] for d in PILE] for m in mixes])
    p = np.array(list(PILE.values())) / sum(PILE.values())
    assert P.shape == (512, 17)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)  # exactly 1 (curate's departure)
    units = P / MINIMUM
    np.testing.assert_allclose(units, np.rint(units), atol=1e-9)  # multiples of MINIMUM, none below it but 0
    assert ((P == 0) | (P >= MINIMUM)).all()
    # RegMix's bound: at most MAX_USAGE x the natural share (rounding may add half a MINIMUM)
    assert (P <= np.minimum(p * MAX_USAGE, 1) + MINIMUM).all()
    assert len({tuple(r) for r in P}) == 512  # distinct
    assert (P == 0).mean() > 0.2  # low strengths give sparse mixtures, as RegMix's 512 runs (45% zeros)
    assert draw_mixtures(PILE, 512, seed=1) == mixes
    assert draw_mixtures(PILE, 512, seed=2) != mixes


def test_rounding_as_regmix_leaves_sums_off_and_curate_does_not():
    """RegMix rounds each share to the MINIMUM grid and stops (sums off by up to half a MINIMUM per
    domain, as its published tables show: up to 0.4% off); curate's draws sum to exactly 1."""
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(17) * 0.3, 2000)
    x[x < MINIMUM] = 0
    x /= x.sum(axis=1, keepdims=True)
    regmix = np.round(x / MINIMUM) * MINIMUM
    assert np.abs(regmix.sum(axis=1) - 1).max() > 1e-6
    ours = np.array([[m[d] for d in PILE] for m in draw_mixtures(PILE, 200, seed=0)])
    assert np.abs(ours.sum(axis=1) - 1).max() < 1e-12


def test_too_few_distinct_mixtures_is_infeasible():
    with pytest.raises(InfeasibleError, match="distinct mixtures"):
        draw_mixtures({"a": 1.0, "b": 1.0}, 50, minimum=0.1, oversample=2)


def test_natural_distribution_from_buckets_with_domains():
    doc = {"buckets": [{"name": "web-high", "domain": "web", "unique_tokens": 300},
                       {"name": "web-low", "domain": "web", "unique_tokens": 700},
                       {"name": "code-high", "domain": "code", "unique_tokens": 500},
                       {"name": "math-high", "domain": "math", "unique_tokens": 0}]}
    natural, warnings = natural_distribution(doc, "b.json")
    assert natural == {"code": 500.0, "math": 0.0, "web": 1000.0}
    assert warnings == ["b.json: domain 'math' has no tokens; its share is always 0"]
    mixes = draw_mixtures(natural, 20, seed=0, minimum=0.01)
    assert all(m["math"] == 0.0 for m in mixes)
    with pytest.raises(ConfigError, match="bucket 0 has no 'domain'"):
        natural_distribution({"buckets": [{"name": "high", "unique_tokens": 10}]}, "b.json")
