"""Proxy-run mixtures drawn as RegMix draws them (Liu et al. 2024, section 2.2; authors' code
github.com/sail-sg/regmix, ``mixture_config/synthesize_mixture.py``, whose constants are the
defaults here):

1. the natural distribution p: each domain's share of the unique tokens;
2. a bound per domain, min(p_j * ``MAX_USAGE``, 1): a mixture asking for more of a domain than
   ``MAX_USAGE`` times its natural share is rejected (RegMix: ``MAXIMUM_USAGE``, ``enable_bound``);
3. Dirichlet draws with concentration p^``TEMPERATURE`` (renormalised) times a strength drawn
   uniformly from ``STRENGTHS`` values log-spaced from ``MIN_STRENGTH`` to ``MAX_STRENGTH``: small
   strengths give sparse mixtures, large ones mixtures near the natural distribution;
4. shares below ``MINIMUM`` set to 0, renormalised, rounded to multiples of ``MINIMUM``;
5. ``OVERSAMPLE`` times more draws than asked, duplicates dropped, then n of them at random.

Two departures, both tested: every mixture is made to sum to exactly 1 after rounding (the
largest share takes the difference; RegMix leaves sums off by up to half a ``MINIMUM`` per domain,
which curate's reader would then renormalise), and duplicates are found exactly on the ``MINIMUM``
grid (RegMix compares neighbours in sorted order within an L1 distance of 1e-5, which on that grid
only ever matches equal rows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from curate.errors import ConfigError, InfeasibleError

TEMPERATURE = 0.5  # synthesize_mixture.py: TEMP
MIN_STRENGTH = 0.1  # MIN_STRENGH
MAX_STRENGTH = 5.0  # MAX_STRENGH
STRENGTHS = 15  # np.logspace(..., 15)
MAX_USAGE = 15.0  # MAXIMUM_USAGE
MINIMUM = 2e-4  # MINIMUM
OVERSAMPLE = 100  # SAMPLE_MULTIPLIER


def natural_distribution(buckets_doc: Any, where: str = "buckets.json") -> tuple[dict[str, float], list[str]]:
    """Unique tokens per domain from a buckets.json whose buckets carry ``domain`` (buckets of
    several qualities may share a domain: their tokens add up), and warnings for domains without
    tokens. ConfigError when the shape is not that."""
    buckets = buckets_doc.get("buckets") if isinstance(buckets_doc, Mapping) else None
    if not isinstance(buckets, list) or not buckets:
        raise ConfigError(f"{where}: expected {{\"buckets\": [{{\"name\", \"domain\", \"unique_tokens\"}}, ...]}}")
    tokens: dict[str, float] = {}
    for i, b in enumerate(buckets):
        if not isinstance(b, Mapping) or not isinstance(b.get("domain"), str) or not b.get("domain"):
            raise ConfigError(f"{where}: bucket {i} has no 'domain'; mixtures are drawn over domains, so every bucket "
                              "needs one (quality_buckets with by: domain writes it)")
        u = b.get("unique_tokens")
        if isinstance(u, bool) or not isinstance(u, (int, float)) or not math.isfinite(u) or u < 0:
            raise ConfigError(f"{where}: bucket {i} ('{b.get('name')}'): unique_tokens must be a number >= 0, got {u!r}")
        tokens[b["domain"]] = tokens.get(b["domain"], 0.0) + float(u)
    warnings = [f"{where}: domain '{d}' has no tokens; its share is always 0" for d, t in tokens.items() if t == 0]
    if not any(tokens.values()):
        raise ConfigError(f"{where}: no domain has any tokens")
    return dict(sorted(tokens.items())), warnings


def draw_mixtures(natural: Mapping[str, float], n: int, seed: int = 0, temperature: float = TEMPERATURE,
                  min_strength: float = MIN_STRENGTH, max_strength: float = MAX_STRENGTH,
                  max_usage: float = MAX_USAGE, minimum: float = MINIMUM,
                  oversample: int = OVERSAMPLE) -> list[dict[str, float]]:
    """`n` distinct mixtures over the domains of `natural` (tokens or shares per domain), seeded."""
    if n < 1 or oversample < 1:
        raise ConfigError("--n and the oversampling must be at least 1")
    if not (0 < min_strength <= max_strength and temperature > 0 and max_usage > 0 and 0 < minimum < 1):
        raise ConfigError("strengths must satisfy 0 < min <= max; temperature, max usage and minimum must be > 0 "
                          "(minimum below 1)")
    domains = [d for d, t in natural.items() if t > 0]
    p = np.array([natural[d] for d in domains], dtype=np.float64)
    p /= p.sum()
    bound = np.minimum(p * max_usage, 1.0)
    alpha = p**temperature
    alpha /= alpha.sum()
    rng = np.random.default_rng(seed)
    strengths = np.logspace(math.log10(min_strength), math.log10(max_strength), STRENGTHS)
    picks = rng.integers(0, STRENGTHS, n * oversample)
    draws = np.vstack([rng.dirichlet(alpha * s, int((picks == i).sum())) for i, s in enumerate(strengths)])
    draws = draws[np.isfinite(draws).all(axis=1) & (draws <= bound).all(axis=1)]
    draws[draws < minimum] = 0.0
    draws = draws[draws.sum(axis=1) > 0]
    draws /= draws.sum(axis=1, keepdims=True)
    units = round(1 / minimum)
    grid = np.rint(draws * units).astype(np.int64)
    largest = grid.argmax(axis=1)
    grid[np.arange(len(grid)), largest] += units - grid.sum(axis=1)  # sum exactly 1 (see docstring)
    grid = grid[(grid >= 0).all(axis=1)]
    unique = np.unique(grid, axis=0)
    if len(unique) < n:
        raise InfeasibleError(f"only {len(unique)} distinct mixtures came out of {n * oversample} draws within the "
                              f"bounds; ask for fewer (--n) or draw more (--oversample)")
    chosen = unique[rng.choice(len(unique), n, replace=False)]
    return [{d: int(g) / units for d, g in zip(domains, row)} | {d: 0.0 for d in natural if d not in domains}
            for row in chosen]


def mixture_rows(mixtures: Sequence[Mapping[str, float]], prefix: str = "mix") -> list[dict[str, Any]]:
    """Rows ``{"name": "mix-0001", "mixture": {...}}`` (what ``curate predict`` and the sampler read)."""
    width = max(4, len(str(len(mixtures))))
    return [{"name": f"{prefix}-{i + 1:0{width}d}", "mixture": dict(m)} for i, m in enumerate(mixtures)]
