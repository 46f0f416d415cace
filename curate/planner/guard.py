"""The overfitting guard: how many epochs repetition was seen to help at a model size like the plan's.

The loss laws' D' never decreases with repetition, but measured losses do rise: in datablations'
own runs (Muennighoff et al. 2023; curate/planner/data/datablations_runs.json) 24 adjacent pairs
at one N and one U get worse with more epochs (e.g. 146M parameters on 100M unique tokens: best at
59 epochs, worse at 75, 140, ...). The evidence is read from the runs a law was fitted on as
*series*: runs at one model size N on one unique-token count U (one pool), by epochs. A series
shows repetition helping up to the epochs of its lowest loss (beyond that it was seen to hurt, or
was not tried). At a plan's N the guard takes the series at comparable N (within a factor
``COMPARABLE`` either way; if none, those at the nearest N) and the largest such epoch count among
them: the most repetition seen to help at that size.

That number is the default ``max_epochs`` (``plan(..., max_epochs=None)``), and a plan given a
larger cap is warned about, bucket by bucket, with the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.planner.runs import Runs
from curate.planner.units import human

COMPARABLE = 3.0  # series at N / 3 .. 3 N count as comparable model sizes
_MIN_RUNS = 2  # a series needs two epoch counts to show anything


@dataclass(frozen=True)
class Series:
    """Runs at one model size on one unique-token count, by epochs."""

    params: float
    unique_tokens: float
    pool: str
    epochs: tuple[float, ...]
    losses: tuple[float, ...]

    @property
    def helped_up_to(self) -> float:
        """Epochs of the lowest loss: repetition was seen to help up to here."""
        return self.epochs[int(np.argmin(self.losses))]

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "unique_tokens": self.unique_tokens, "pool": self.pool,
                "epochs": list(self.epochs), "losses": list(self.losses)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Series:
        epochs = tuple(float(x) for x in d["epochs"])
        losses = tuple(float(x) for x in d["losses"])
        if len(epochs) != len(losses) or len(epochs) < _MIN_RUNS:
            raise ValueError("a repetition series needs as many losses as epochs, and at least two")
        return cls(float(d["params"]), float(d["unique_tokens"]), str(d.get("pool", "")), epochs, losses)


def series_from_runs(runs: Runs) -> list[Series]:
    """The series in `runs`: runs drawing from one pool, grouped by (pool, N, U), two or more epoch counts."""
    groups: dict[tuple[str, float, float], list[tuple[float, float]]] = {}
    one_pool = (runs.tokens > 0).sum(axis=1) == 1
    for r in np.flatnonzero(one_pool):
        j = int(np.flatnonzero(runs.tokens[r] > 0)[0])
        key = (runs.pools[j], float(runs.params[r]), float(runs.unique[r, j]))
        groups.setdefault(key, []).append((float(runs.tokens[r, j] / runs.unique[r, j]), float(runs.loss[r])))
    out = []
    for (pool, n, u), points in sorted(groups.items()):
        by_epochs: dict[float, list[float]] = {}
        for e, loss in points:
            by_epochs.setdefault(e, []).append(loss)  # seeds of one design: their mean
        if len(by_epochs) < _MIN_RUNS:
            continue
        epochs = sorted(by_epochs)
        out.append(Series(n, u, pool, tuple(epochs), tuple(float(np.mean(by_epochs[e])) for e in epochs)))
    return out


@dataclass(frozen=True)
class Evidence:
    """What the series at comparable N say: repetition helped up to `epochs` (None: no series)."""

    epochs: float | None
    series: tuple[Series, ...]
    source: str

    def describe(self) -> str:
        """Which runs the number comes from, for messages."""
        if not self.series:
            return f"no repetition series in {self.source}"
        lo = min(s.params for s in self.series)
        hi = max(s.params for s in self.series)
        sizes = human(lo) if lo == hi else f"{human(lo)}-{human(hi)}"
        return f"{self.source}: {len(self.series)} series at N {sizes}"


def evidence_at(series: Sequence[Series], params: float, source: str, pools: Iterable[str] | None = None) -> Evidence:
    """The most repetition seen to help at a model of `params` parameters (see the module docstring);
    `pools` limits the series to those pools when any of them has series."""
    wanted = set(pools or ())
    chosen = [s for s in series if s.pool in wanted] if wanted and any(s.pool in wanted for s in series) else list(series)
    if not chosen or not params > 0:
        return Evidence(None, (), source)
    near = [s for s in chosen if 1 / COMPARABLE <= s.params / params <= COMPARABLE]
    if not near:
        gap = min(abs(math.log(s.params / params)) for s in chosen)
        near = [s for s in chosen if abs(math.log(s.params / params)) <= gap * (1 + 1e-9)]
    return Evidence(max(s.helped_up_to for s in near), tuple(near), source)


def overfitting_warnings(epochs: Mapping[str, float], evidence: Evidence) -> list[str]:
    """A warning per bucket planned beyond the epochs repetition was seen to help."""
    if evidence.epochs is None:
        return []
    return [
        f"bucket '{name}': {e:.4g} epochs, beyond the {evidence.epochs:.4g} up to which repetition was seen to "
        f"lower the loss at comparable model sizes ({evidence.describe()}); past that, measured losses rose or "
        f"were not measured, while the law still counts every repeat as a gain"
        for name, e in epochs.items() if e > evidence.epochs * (1 + 1e-9)
    ]

