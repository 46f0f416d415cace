"""Where a plan stops being meaningful: compute saturation, the law's fit range, flat ridges in N.

Pure functions over callables and numbers (the planner passes its own solvers in), so they hold
no planning logic of their own.

- Saturation: a doubling of compute that buys less than ``SATURATION_FRACTION`` of the remaining
  reducible loss L(C) - E is not worth it; ``useful_compute`` is the budget at which that happens.
- Fit range: a plan whose N, D or epochs lie outside the runs a law was fitted on extrapolates.
- Flat ridge: where predicted loss is flat in N to ``TIE_TOLERANCE`` (relative) over more than
  ``TIE_MIN_SPAN`` of N, the optimum is a tie; the planner takes the smallest such N.
- Nonsense (issue 29): a saturated plan, a model more than ``RANGE_FACTOR`` outside the sizes the
  law was fitted on, or fewer than ``MIN_TOKENS_PER_PARAM`` tokens per parameter; ``curate plan``
  refuses such a plan unless told to extrapolate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence


def _brentq() -> Callable[..., float]:
    """scipy.optimize.brentq, imported when a limit is searched (not when a stage module that
    reaches the planner is imported: `curate stages`, a run without a sample stage)."""
    from scipy.optimize import brentq

    return brentq


SATURATION_FRACTION = 0.01  # a doubling must buy >= 1% of the remaining reducible loss
TIE_TOLERANCE = 1e-9  # relative loss difference below which two model sizes tie
TIE_MIN_SPAN = 0.01  # a tie-break is reported when it moves N by more than 1%
_SEARCH_XTOL = 1e-6  # in ln C and ln N
# A model 10x smaller or larger than any the law was fitted on is an order of magnitude of pure
# extrapolation (issue 29's threshold). Fewer training tokens than parameters is 20x below the
# compute-optimal ratio of about 20 tokens per parameter (Hoffmann et al. 2022, Table 3): a model
# that large is a misallocation whatever the law says (issue 29: 95.6T parameters at 0.0 tokens
# per parameter).
RANGE_FACTOR = 10.0
MIN_TOKENS_PER_PARAM = 1.0


def doubling_gain(loss_at: Callable[[float], float], compute: float, irreducible: float) -> float:
    """(L(C) - L(2C)) / (L(C) - E): the share of the remaining reducible loss a doubling buys."""
    now = loss_at(compute)
    reducible = now - irreducible
    # Clamped at 0: with N and the allocation optimised, more compute never raises the loss (below 0 is rounding).
    return max(0.0, (now - loss_at(2.0 * compute)) / reducible) if reducible > 0 else 0.0


def useful_compute(loss_at: Callable[[float], float], compute: float, irreducible: float,
                   fraction: float = SATURATION_FRACTION) -> float | None:
    """The smallest budget <= `compute` at which a doubling buys less than `fraction`; None if none does."""

    def excess(log_c: float) -> float:
        return doubling_gain(loss_at, math.exp(log_c), irreducible) - fraction

    hi = math.log(compute)
    if excess(hi) >= 0:
        return None
    lo = hi
    for _ in range(30):  # budgets down to compute / 16^30, a factor 16 at a time (each step plans twice)
        hi, lo = lo, lo - math.log(16.0)
        if excess(lo) >= 0:
            return math.exp(_brentq()(excess, lo, hi, xtol=_SEARCH_XTOL))
    return math.exp(lo)


def smallest_tied(loss_at: Callable[[float], float], log_n: float, best: float, log_floor: float,
                  tolerance: float = TIE_TOLERANCE) -> float | None:
    """ln of the smallest N with loss within `tolerance` (relative) of `best`, if that is more than
    ``TIE_MIN_SPAN`` below exp(log_n); None when the minimum is not a flat ridge."""
    target = best + tolerance * abs(best)

    def above(x: float) -> float:
        return loss_at(x) - target

    probe = log_n - math.log1p(TIE_MIN_SPAN)
    if probe <= log_floor or above(probe) > 0:
        return None
    width = math.log(2.0)
    lo = probe
    while True:
        nxt = max(lo - width, log_floor)
        if above(nxt) > 0:
            return _brentq()(above, nxt, lo, xtol=_SEARCH_XTOL)
        if nxt <= log_floor:
            return log_floor
        lo, width = nxt, 2 * width


def fit_range_warnings(law_name: str, fit_range: Mapping[str, Sequence[float | None]] | None,
                       bucket_range: Mapping[str, Mapping[str, Sequence[float]]], params: float, tokens: float,
                       epochs: Mapping[str, float]) -> list[str]:
    """Warnings for N, D or epochs outside what the law was fitted on (ends given as None are open)."""
    out: list[str] = []

    def check(what: str, value: float, span: Sequence[float | None] | None) -> None:
        if not span:
            return
        lo, hi = span[0], span[1]
        if (lo is not None and value < lo * (1 - 1e-9)) or (hi is not None and value > hi * (1 + 1e-9)):
            shown = f"[{'-' if lo is None else f'{lo:.3g}'}, {'-' if hi is None else f'{hi:.3g}'}]"
            out.append(f"{what} = {value:.4g} is outside the range law '{law_name}' was fitted on {shown}: "
                       "the plan extrapolates")

    rng = fit_range or {}
    check("N (params)", params, rng.get("params"))
    check("D (tokens)", tokens, rng.get("tokens"))
    hi_all = (rng.get("epochs") or [None, None])[1]
    for name, e in epochs.items():
        seen = bucket_range.get(name, {}).get("epochs")  # a bucket's own runs, else all runs
        hi = seen[1] if seen else hi_all
        if e > 0 and hi is not None and e > hi * (1 + 1e-9):
            runs = "its calibration runs reached" if seen else f"any run law '{law_name}' was fitted on reached"
            out.append(f"bucket '{name}': {e:.4g} epochs, beyond the {hi:.3g} {runs}: the repetition term extrapolates")
    return out


def outside_factor(value: float, span: Sequence[float | None] | None) -> float:
    """How many times `value` lies outside [lo, hi] (1.0 inside; None ends are open)."""
    if not span:
        return 1.0
    lo, hi = span[0], span[1]
    if lo is not None and value < lo:
        return lo / value
    if hi is not None and value > hi:
        return value / hi
    return 1.0


def smallest_scale(excess: Callable[[float], float], max_steps: int = 30) -> float | None:
    """The smallest s >= 1 with excess(ln s) >= 0, for an `excess` increasing in s (s times 4 until
    it turns, then brentq in ln s to 1%); None when 4^max_steps is not enough."""
    if excess(0.0) >= 0:
        return 1.0
    lo = 0.0
    for _ in range(max_steps):
        hi = lo + math.log(4.0)
        if excess(hi) >= 0:
            return math.exp(_brentq()(excess, lo, hi, xtol=1e-2))
        lo = hi
    return None
