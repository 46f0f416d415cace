"""The sampler's phases and its mixture report: which share of each bucket's copies each phase
writes, and the tokens written per domain, quality bucket and phase (``_curate/stats.json``).

A plan's phases (curate.planner.phases) give tokens per bucket per phase; the sampler turns them
into fractions of each bucket's stream (so that a bucket whose actual tokens differ a little from
the plan's keeps its phase proportions), cuts every bucket's stream at those fractions of its
tokens, and writes phase after phase. The stage's ``phases`` parameter schedules the plan's tokens
anew (on the corpus's actual tokens); without it, the plan's own ``phases`` are used; without
either there is one phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.planner.phases import ScheduledBucket, parse_phases, schedule

_GROUPINGS = (("domain", "domains"), ("quality", "qualities"))


@dataclass(frozen=True)
class BucketInfo:
    """A plan bucket as the sampler reports it: name, domain and quality (None in a plan without
    domains), and its planned tokens on this corpus (epochs x its actual tokens)."""

    name: str
    domain: str | None
    quality: str | None
    planned: float


@dataclass(frozen=True)
class PhaseFractions:
    """Phase ends (shares of the run) and, per bucket, the share of its copies each phase writes."""

    until: tuple[float, ...]
    fractions: np.ndarray  # buckets x phases, rows sum to 1
    specs: tuple[dict[str, Any], ...]


def phase_fractions(buckets: Sequence[BucketInfo], plan_phases: Sequence[Mapping[str, Any]] | None,
                    spec: Sequence[Mapping[str, Any]] | None, where: str) -> PhaseFractions:
    """The phases the sampler writes: `spec` (the stage's ``phases``) scheduled on the planned
    tokens, else the plan's own ``phases``, else one phase."""
    n = len(buckets)
    if spec is not None:
        specs = parse_phases(spec, f"{where}: phases")
        scheduled = [ScheduledBucket(b.name, b.planned, b.domain, b.quality) for b in buckets]
        scheduled_phases = schedule(scheduled, specs)
        tokens = np.array([[p.tokens[b.name] for p in scheduled_phases] for b in buckets]).reshape(n, len(specs))
        return PhaseFractions(tuple(s.until for s in specs), _rows_to_one(tokens), tuple(s.to_dict() for s in specs))
    if plan_phases:
        specs = parse_phases([{k: p[k] for k in ("until", "upsample", "proportions") if k in p} for p in plan_phases],
                             f"{where}: the plan's phases")
        tokens = np.array([[float(p["buckets"].get(b.name, 0.0)) for p in plan_phases] for b in buckets])
        return PhaseFractions(tuple(s.until for s in specs), _rows_to_one(tokens.reshape(n, len(specs))),
                              tuple(s.to_dict() for s in specs))
    return PhaseFractions((1.0,), np.ones((n, 1)), ({"until": 1.0},))


def _rows_to_one(tokens: np.ndarray) -> np.ndarray:
    total = tokens.sum(axis=1, keepdims=True)
    out = np.divide(tokens, total, out=np.zeros_like(tokens), where=total > 0)
    out[(total[:, 0] <= 0), 0] = 1.0  # a bucket without planned tokens: everything (nothing) in the first phase
    return out


def phase_of_copies(tokens: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Phase index of every copy of one bucket's stream (tokens in stream order): phase p writes
    the copies whose middle token falls in the p-th stretch of the stream's tokens."""
    if tokens.size == 0:
        return np.zeros(0, dtype=np.int32)
    t = tokens.astype(np.float64)
    total = t.sum()
    mid = (np.cumsum(t) - t / 2) / total if total > 0 else (np.arange(t.size) + 0.5) / t.size
    bounds = np.cumsum(fractions)[:-1]
    return np.searchsorted(bounds, mid, side="right").astype(np.int32)


def mixture_report(buckets: Sequence[BucketInfo], phases: PhaseFractions, bucket_of_row: np.ndarray,
                   tokens_of_row: np.ndarray, phase_of_row: np.ndarray) -> dict[str, Any]:
    """``_curate/stats.json``'s per-domain, per-quality and per-phase tokens (written and planned) and shares."""
    n_phases = len(phases.until)
    written = np.zeros((len(buckets), n_phases))
    np.add.at(written, (bucket_of_row, phase_of_row), tokens_of_row.astype(np.float64))
    planned = np.array([b.planned for b in buckets])[:, None] * phases.fractions
    out: dict[str, Any] = {}
    for key, plural in _GROUPINGS:
        groups = _groups(buckets, key)
        if groups:
            out[plural] = _shares(groups, written.sum(axis=1), planned.sum(axis=1))
    per_phase = []
    start = 0.0
    for p, until in enumerate(phases.until):
        entry: dict[str, Any] = {**phases.specs[p], "start": start, "planned_tokens": float(planned[:, p].sum()),
                                 "written_tokens": float(written[:, p].sum()),
                                 "buckets": _shares({b.name: [i] for i, b in enumerate(buckets)}, written[:, p],
                                                    planned[:, p])}
        for key, plural in _GROUPINGS:
            groups = _groups(buckets, key)
            if groups:
                entry[plural] = _shares(groups, written[:, p], planned[:, p])
        per_phase.append(entry)
        start = until
    out["phases"] = per_phase
    return out


def _groups(buckets: Sequence[BucketInfo], key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, b in enumerate(buckets):
        value = getattr(b, key)
        if value is not None:
            out.setdefault(value, []).append(i)
    return out


def _shares(groups: Mapping[str, list[int]], written: np.ndarray, planned: np.ndarray) -> dict[str, dict[str, float]]:
    w_total, p_total = float(written.sum()), float(planned.sum())
    out = {}
    for name, idx in groups.items():
        w, p = float(written[idx].sum()), float(planned[idx].sum())
        out[name] = {"written_tokens": w, "planned_tokens": p, "share": w / w_total if w_total > 0 else 0.0,
                     "planned_share": p / p_total if p_total > 0 else 0.0}
    return out
