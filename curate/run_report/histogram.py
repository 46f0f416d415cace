"""Histograms of one signal, split into kept documents, documents rejected by a rule on this
signal, and documents rejected for another reason (stacked in that order).

The range covers the values, clipped at the 1st or 99th percentile when a long tail would squeeze
everything else into a few bins (the first or last bin then holds every value beyond and the
chart says so), and widened to show a cut-off that lies just outside it. Integer signals get bins
of whole units. A signal with one value for every document is reported as that value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from curate.run_report.signals import Cutoff, SignalSpec

SERIES = ("kept", "rejected by this signal's rules", "rejected for another reason")
MAX_BINS = 30
TAIL_QUANTILE = 0.99
TAIL_RATIO = 0.5  # clip when the values above the quantile span more than this share of the rest
CUTOFF_MARGIN = 1.0  # widen the range to a cut-off at most this share of the range outside it


@dataclass
class Histogram:
    column: str
    edges: np.ndarray  # bin edges, len(bins) + 1
    counts: dict[str, np.ndarray]  # series name -> count per bin
    integer: bool
    underflow: float | None  # the first bin also holds every value below its lower edge (the smallest value)
    overflow: float | None  # the last bin also holds every value above its upper edge (the largest value)
    undefined: int  # documents without a value (NaN, null, or measured after their rejection)
    cutoffs: list[Cutoff] = field(default_factory=list)
    off_scale: list[Cutoff] = field(default_factory=list)  # cut-offs too far outside the range to draw

    @property
    def total(self) -> int:
        return int(sum(c.sum() for c in self.counts.values()))


@dataclass
class Constant:
    """A signal with one value for every document that has it: a line of text, not a chart."""

    column: str
    value: float
    docs: int
    undefined: int


def histogram(spec: SignalSpec, values: np.ndarray, reasons: np.ndarray, integer: bool) -> Histogram | Constant | None:
    """The histogram of `values` (one per document, NaN when undefined), each document's reject
    reason in `reasons` ("" if kept); a Constant when every value is the same, None when no
    document has a value. `integer`: the column holds integers (bins of whole units)."""
    defined = np.isfinite(values)
    if not defined.any():
        return None
    x, why = values[defined], reasons[defined]
    if x.min() == x.max():
        return Constant(spec.column, float(x[0]), len(x), int((~defined).sum()))
    lo, hi = _range(x, spec.cutoffs)
    edges = _edges(lo, hi, integer)
    groups = {SERIES[0]: why == "", SERIES[1]: np.isin(why, sorted(spec.reasons))}
    groups[SERIES[2]] = ~(groups[SERIES[0]] | groups[SERIES[1]])
    clipped = np.clip(x, edges[0], edges[-1])
    counts = {name: np.histogram(clipped[mask], bins=edges)[0] for name, mask in groups.items()}
    shown = [c for c in spec.cutoffs if edges[0] <= c.value <= edges[-1]]
    smallest, largest = float(x.min()), float(x.max())
    return Histogram(spec.column, edges, counts, integer, smallest if smallest < edges[0] else None,
                     largest if largest > edges[-1] else None, int((~defined).sum()), shown,
                     [c for c in spec.cutoffs if c not in shown])


def _range(x: np.ndarray, cutoffs: list[Cutoff]) -> tuple[float, float]:
    """The drawn range: the values', each end clipped at a quantile when a long tail lies beyond
    it, then widened to a cut-off just outside."""
    lo, hi = float(x.min()), float(x.max())
    bottom, top = (float(q) for q in np.quantile(x, [1 - TAIL_QUANTILE, TAIL_QUANTILE]))
    if top > bottom:
        if hi - top > TAIL_RATIO * (top - bottom):
            hi = top
        if bottom - lo > TAIL_RATIO * (top - bottom):
            lo = bottom
    width = hi - lo
    for c in cutoffs:
        if lo - CUTOFF_MARGIN * width <= c.value < lo:
            lo = c.value
        elif hi < c.value <= hi + CUTOFF_MARGIN * width:
            hi = c.value
    return lo, hi


def _edges(lo: float, hi: float, integer: bool) -> np.ndarray:
    if integer:
        lo, hi = math.floor(lo), math.ceil(hi)
        step = max(1, math.ceil((hi - lo + 1) / MAX_BINS))
        n = max(1, math.ceil((hi - lo + 1) / step))
        return lo - 0.5 + step * np.arange(n + 1, dtype=np.float64)
    return np.linspace(lo, hi, MAX_BINS + 1)


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> np.ndarray:
    """Round tick values within [lo, hi], about `count` of them: steps of 1, 2, 2.5 or 5 times a
    power of ten (whole steps for an integer axis)."""
    raw = (hi - lo) / max(count - 1, 1) or 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, float(round(step)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return np.round(ticks, 12)
