"""Phases: when a plan's tokens are read. A plan says how many tokens of each bucket to train on;
phases split the run into stretches (``until``: the share of the run's tokens read by the end of
the phase) and say how each stretch mixes the buckets, so that the last stretch can upsample the
best data, as end-of-training upsampling and annealing reports do (Blakeney et al. 2024, "Does
your data spark joy? Performance gains from domain upsampling at the end of training"; Llama 3,
Dubey et al. 2024, section 3.1.3, "Annealing Data").

A phase is one of:

- ``{until: u}``: the buckets in the plan's own proportions (as far as the other phases leave them);
- ``{until: u, upsample: {key: factor}}``: a bucket's weight in this phase multiplied by the
  factor, where the key names a bucket, a domain (all its buckets) or a quality (that quality in
  every domain); the phase still holds (until - previous until) of the run's tokens;
- ``{until: u, proportions: {key: share}}``: the phase's shares of the domains (or, in a plan
  without domains, of the buckets) fixed; inside a domain, buckets in the plan's proportions.

Phases only reorder a plan: every bucket keeps its planned tokens (and so its epochs and the
predicted loss, which no law here makes depend on order). Phases with proportions take their
tokens first; the rest of each bucket is shared among the other phases by iterative proportional
fitting (Deming and Stephan 1940; Sinkhorn 1964): tokens[b, p] = a_b * factor[b, p] * c_p with a_b
and c_p such that each bucket's remaining tokens and each phase's length add up. When every
phase gives proportions, they define the plan's mixture (the planner evaluates it instead of
optimising one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from curate.errors import ConfigError, InfeasibleError
from curate.planner.budget import Plan

_IPF_ITERATIONS = 10_000
_IPF_TOLERANCE = 1e-12


@dataclass(frozen=True)
class PhaseSpec:
    """One phase as asked for: its end (share of the run's tokens) and its mixing rule."""

    until: float
    upsample: dict[str, float] = field(default_factory=dict)
    proportions: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"until": self.until}
        if self.upsample:
            out["upsample"] = dict(self.upsample)
        if self.proportions is not None:
            out["proportions"] = dict(self.proportions)
        return out


@dataclass(frozen=True)
class ScheduledBucket:
    """What a schedule needs of a plan's bucket: its name, planned tokens, domain and quality."""

    name: str
    tokens: float
    domain: str | None = None
    quality: str | None = None


@dataclass(frozen=True)
class Phase:
    """One scheduled phase: its bounds (shares of the run's tokens) and tokens per bucket."""

    start: float
    until: float
    tokens: dict[str, float]
    spec: PhaseSpec

    def fraction_of(self, bucket: str, total: float) -> float:
        """The share of a bucket's planned tokens read in this phase."""
        return self.tokens.get(bucket, 0.0) / total if total > 0 else 0.0

    def to_dict(self, buckets: Sequence[ScheduledBucket]) -> dict[str, Any]:
        total = sum(self.tokens.values())
        out: dict[str, Any] = {**self.spec.to_dict(), "start": self.start, "tokens": total,
                               "buckets": {b: float(t) for b, t in self.tokens.items()}}
        domains = _group(self.tokens, {b.name: b.domain for b in buckets})
        if domains:
            out["domains"] = {d: {"tokens": t, "share": t / total if total > 0 else 0.0} for d, t in domains.items()}
        qualities = _group(self.tokens, {b.name: b.quality for b in buckets})
        if qualities:
            out["qualities"] = {q: {"tokens": t, "share": t / total if total > 0 else 0.0} for q, t in qualities.items()}
        return out


def _group(tokens: Mapping[str, float], key_of: Mapping[str, str | None]) -> dict[str, float]:
    out: dict[str, float] = {}
    for b, t in tokens.items():
        k = key_of.get(b)
        if k is not None:
            out[k] = out.get(k, 0.0) + float(t)
    return out


def parse_phases(spec: Any, where: str = "phases") -> list[PhaseSpec]:
    """Phases from a list of mappings (YAML or JSON); ConfigError naming the phase and key."""
    if not isinstance(spec, Sequence) or isinstance(spec, (str, bytes)) or not spec:
        raise ConfigError(f"{where}: expected a non-empty list of phases like [{{until: 0.85}}, {{until: 1.0, "
                          "upsample: {high: 3}}]")
    out: list[PhaseSpec] = []
    previous = 0.0
    for i, p in enumerate(spec):
        at = f"{where}[{i}]"
        if not isinstance(p, Mapping):
            raise ConfigError(f"{at}: expected a mapping with 'until', got {p!r}")
        unknown = sorted(set(p) - {"until", "upsample", "proportions"})
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)} (until, upsample, proportions)")
        until = p.get("until")
        if isinstance(until, bool) or not isinstance(until, (int, float)) or not previous < until <= 1:
            raise ConfigError(f"{at}: 'until' must be a number in ({previous:g}, 1] (phases in order), got {until!r}")
        if "upsample" in p and "proportions" in p:
            raise ConfigError(f"{at}: give 'upsample' or 'proportions', not both")
        upsample = _numbers(p["upsample"], f"{at}.upsample") if "upsample" in p else {}
        proportions = None
        if "proportions" in p:
            proportions = _numbers(p["proportions"], f"{at}.proportions")
            total = sum(proportions.values())
            if abs(total - 1) > 1e-6:
                raise ConfigError(f"{at}.proportions: shares must sum to 1, got {total:.6g}")
        out.append(PhaseSpec(float(until), upsample, proportions))
        previous = float(until)
    if out[-1].until != 1.0:
        raise ConfigError(f"{where}: the last phase must end at until: 1.0, got {out[-1].until:g}")
    return out


def _numbers(obj: Any, where: str) -> dict[str, float]:
    if not isinstance(obj, Mapping) or not obj:
        raise ConfigError(f"{where}: expected a non-empty mapping of names to numbers")
    out = {}
    for k, v in obj.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"{where}.{k}: must be a finite number >= 0, got {v!r}")
        out[str(k)] = float(v)
    return out


def fixed_mixture(specs: Sequence[PhaseSpec]) -> dict[str, float] | None:
    """When every phase gives proportions: the run's overall shares (each phase weighted by its
    length); else None (the planner chooses the mixture)."""
    if not all(s.proportions is not None for s in specs):
        return None
    out: dict[str, float] = {}
    start = 0.0
    for s in specs:
        for k, v in (s.proportions or {}).items():
            out[k] = out.get(k, 0.0) + v * (s.until - start)
        start = s.until
    return out


def with_phases(plan: Plan, specs: Sequence[PhaseSpec]) -> Plan:
    """The plan with ``phases`` in its extras: its tokens per bucket scheduled by `specs`."""
    scheduled = [ScheduledBucket(b.name, b.tokens, b.domain, b.quality) for b in plan.buckets]
    return replace(plan, extra={**plan.extra, "phases": [p.to_dict(scheduled) for p in schedule(scheduled, specs)]})


def schedule(buckets: Sequence[ScheduledBucket], specs: Sequence[PhaseSpec]) -> list[Phase]:
    """Tokens per bucket per phase: every bucket's planned tokens over the phases (module docstring)."""
    names = [b.name for b in buckets]
    T = np.array([max(float(b.tokens), 0.0) for b in buckets])
    total = float(T.sum())
    by_domain = any(b.domain is not None for b in buckets)
    starts = [0.0, *(s.until for s in specs[:-1])]
    length = np.array([(s.until - a) * total for s, a in zip(specs, starts)])
    tokens = np.zeros((len(buckets), len(specs)))
    explicit = [p for p, s in enumerate(specs) if s.proportions is not None]
    for p in explicit:
        tokens[:, p] = _fixed_phase(buckets, T, specs[p].proportions or {}, length[p], by_domain, p)
    rest = T - tokens.sum(axis=1)
    short = np.flatnonzero(rest < -1e-9 * max(total, 1.0))
    if short.size:
        b = short[0]
        raise InfeasibleError(f"phases: the phases with proportions ask for {T[b] - rest[b]:.4g} tokens of bucket "
                              f"'{names[b]}', which the plan gives {T[b]:.4g}; lower its shares or leave it to a "
                              "phase without proportions")
    rest = np.maximum(rest, 0.0)
    free = [p for p in range(len(specs)) if p not in explicit]
    if not free:
        if rest.sum() > 1e-6 * max(total, 1.0):
            raise InfeasibleError("phases: every phase gives proportions, and they do not add up to the plan's tokens "
                                  "per bucket; leave one phase without proportions to take the rest")
    else:
        factors = np.column_stack([_factors(buckets, specs[p].upsample, p) for p in free])
        tokens[:, free] = _fit(rest, length[free], factors, [specs[p] for p in free], free)
    return [Phase(starts[p], s.until, {n: float(tokens[i, p]) for i, n in enumerate(names)}, s)
            for p, s in enumerate(specs)]


def _fixed_phase(buckets: Sequence[ScheduledBucket], T: np.ndarray, proportions: Mapping[str, float], length: float,
                 by_domain: bool, p: int) -> np.ndarray:
    """A phase with proportions: each key's share of the phase, split over its buckets by their tokens."""
    groups = [b.domain if by_domain else b.name for b in buckets]
    known = sorted({g for g in groups if g is not None})
    out = np.zeros(len(buckets))
    for key, share in proportions.items():
        members = np.array([g == key for g in groups])
        if not members.any():
            raise ConfigError(f"phases[{p}].proportions: '{key}' is not a {'domain' if by_domain else 'bucket'} of "
                              f"the plan (have: {', '.join(known)})")
        supply = T[members].sum()
        if share > 0 and not supply > 0:
            raise InfeasibleError(f"phases[{p}].proportions: '{key}' gets a share but the plan gives it no tokens")
        if supply > 0:
            out[members] = share * length * T[members] / supply
    return out


def _factors(buckets: Sequence[ScheduledBucket], upsample: Mapping[str, float], p: int) -> np.ndarray:
    """Each bucket's weight in a phase: the product of the upsampling factors whose key names it,
    its domain or its quality."""
    out = np.ones(len(buckets))
    for key, factor in upsample.items():
        hit = np.array([key in (b.name, b.domain, b.quality) for b in buckets])
        if not hit.any():
            known = sorted({x for b in buckets for x in (b.name, b.domain, b.quality) if x is not None})
            raise ConfigError(f"phases[{p}].upsample: '{key}' names no bucket, domain or quality of the plan "
                              f"(have: {', '.join(known)})")
        out[hit] *= factor
    return out


def _fit(rows: np.ndarray, cols: np.ndarray, factors: np.ndarray, specs: Sequence[PhaseSpec],
         index: Sequence[int]) -> np.ndarray:
    """tokens[b, p] = a_b factors[b, p] c_p with row sums `rows` and column sums `cols` (IPF)."""
    a = np.where(rows > 0, 1.0, 0.0)
    c = np.ones(cols.size)
    scale = max(float(cols.sum()), 1.0)
    for _ in range(_IPF_ITERATIONS):
        col_mass = factors.T @ a
        if ((col_mass <= 0) & (cols > 0)).any():
            p = index[int(np.flatnonzero((col_mass <= 0) & (cols > 0))[0])]
            raise InfeasibleError(f"phases[{p}]: its upsampling leaves no bucket with tokens to read")
        c = np.divide(cols, col_mass, out=np.zeros_like(cols), where=col_mass > 0)
        row_mass = factors @ c
        a = np.divide(rows, row_mass, out=np.zeros_like(rows), where=row_mass > 0)
        tokens = a[:, None] * factors * c[None, :]
        if (np.abs(tokens.sum(axis=0) - cols).max() <= _IPF_TOLERANCE * scale
                and np.abs(tokens.sum(axis=1) - rows).max() <= _IPF_TOLERANCE * scale):
            return tokens
    raise InfeasibleError(f"phases: no schedule gives every bucket its planned tokens with the upsampling of "
                          f"phases {', '.join(str(i) for i in index)} ({[s.to_dict() for s in specs]}); "
                          "use factors above 0")
