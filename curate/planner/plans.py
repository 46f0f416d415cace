"""Plans as users get them: the optimal allocation under a law (curate.planner.budget), with what
the law and the runs it was fitted on say about it.

- **Ranges** (issue 29): the plan is recomputed under every bootstrap draw of the law's constants,
  a calibrated law's own or, for the built-in laws, the draws refitted on datablations' 182 runs
  (curate.planner.builtin); each bucket gets ``epochs_range`` and the plan a ``ranges`` object.
- **The overfitting guard** (curate.planner.guard): without ``max_epochs`` the cap is the most
  repetition seen to help at comparable N in those runs; a larger cap is warned about.
- **Limits** (curate.planner.limits): compute saturation, the fit range, N tie-breaks.
- **Refusal**: a saturated plan, a model more than 10x outside the law's fit range, or fewer than
  one token per parameter gets ``refusal``, one line saying what would make it sensible; ``curate
  plan`` and ``curate.plan`` refuse it unless asked to extrapolate (``frontier`` marks it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from curate.errors import InfeasibleError
from curate.planner import guard, limits
from curate.planner.budget import Bucket, BucketPlan, Plan, plan_once
from curate.planner.builtin import builtin_draws, datablations_runs, draws_level
from curate.planner.lawfile import CalibratedLaw
from curate.planner.laws import CHINCHILLA, DATABLATIONS, Law
from curate.planner.sources import BucketsSource, load_buckets
from curate.planner.units import human

_CAP_ROUNDS = 8  # the default cap only falls, over a finite set of values: a few rounds settle it


def plan(
    buckets: BucketsSource,
    compute: float,
    params: float | None = None,
    max_epochs: float | None = None,
    law: str | Law | CalibratedLaw = "datablations",
    saturation_fraction: float = limits.SATURATION_FRACTION,
    ranges: bool = True,
    allow_extrapolation: bool = True,
) -> Plan:
    """Plan tokens per bucket (and N, unless `params` fixes it) for `compute` FLOPs (C = 6 N D).

    `buckets` are Bucket objects, a buckets.json document, or its path or URI; `law` a name, a
    law.json path or a law object (a calibrated law with bucket fits gives every bucket its utility
    and R_D*). `max_epochs` None caps epochs where repetition was seen to help (module docstring);
    ``math.inf`` lifts every cap. With `ranges`, the plan is recomputed under the law's bootstrap
    draws. The plan reports saturation, the fit range, N tie-breaks and, in ``refusal``, why it is
    not sensible (None when it is); without `allow_extrapolation` such a plan is an InfeasibleError
    (:func:`require_sensible`), raised before the ranges are computed. (``curate plan`` and
    ``curate.plan`` refuse by default; this function, which the sample stage calls, does not.)
    """
    given, resolved = load_buckets(buckets, law)
    calibrated = resolved if isinstance(resolved, CalibratedLaw) else None
    law_obj = calibrated.law if calibrated else resolved
    buckets = buckets_with_law(given, calibrated)
    series, source = repetition_series(resolved)
    pools = [b.name for b in buckets]
    result, cap, cap_from = _plan_with_cap(buckets, compute, params, max_epochs, law_obj, series, source, pools)
    evidence = guard.evidence_at(series, result.params, source, pools)
    warnings = list(result.warnings)
    tie = result.extra.get("n_tie_break")
    if tie:
        warnings.append(
            f"predicted loss is flat in N: N = {result.params:.4g} is the smallest model within {tie['tolerance']:g} "
            f"(relative) of the best loss, found at N = {tie['argmin_params']:.4g}; N was chosen by this tie-break"
        )
    warnings += limits.fit_range_warnings(law_obj.name, law_obj.fit_range, calibrated.bucket_range if calibrated else {},
                                          result.params, result.tokens, {b.name: b.epochs for b in result.buckets})
    warnings += guard.overfitting_warnings({b.name: b.epochs for b in result.buckets}, evidence)
    extra: dict[str, Any] = {
        "fit_range": dict(law_obj.fit_range) if law_obj.fit_range else None,
        "max_epochs_default": None if max_epochs is not None else {"epochs": cap, "from": cap_from},
        "repetition_evidence": {"helped_up_to_epochs": evidence.epochs, "from": evidence.describe()} if series else None,
    }
    saturation = _saturation(buckets, compute, params, cap, law_obj, result, saturation_fraction)
    extra["saturation"] = saturation
    if saturation and saturation["saturated"]:
        useful = saturation["useful_compute"]
        warnings.append(
            f"compute is saturated: doubling {compute:.3g} FLOPs buys {saturation['doubling_gain']:.3%} of the "
            f"remaining reducible loss (< {saturation_fraction:.0%}); beyond about "
            f"{'-' if useful is None else f'{useful:.3g}'} FLOPs (useful_compute) more compute barely helps "
            f"with these buckets: add unique data instead"
        )
    refusal = _refusal(buckets, compute, params, cap, law_obj, result, saturation, saturation_fraction)
    extra["refusal"] = refusal
    if refusal:
        if not allow_extrapolation:
            require_sensible(replace(result, extra={"refusal": refusal}))
        warnings.append(f"not a sensible plan (curate plan refuses it without --allow-extrapolation): {refusal}")
    rows = result.buckets
    draws = _draws(resolved, buckets) if ranges else []
    if draws:
        rows, extra["ranges"] = _ranges(draws, compute, params, cap, result, _level(resolved), _draws_source(resolved))
    return replace(result, buckets=rows, warnings=tuple(warnings), max_epochs=cap, extra={**result.extra, **extra})


def require_sensible(the_plan: Plan) -> Plan:
    """The plan, or InfeasibleError (exit 2, one line) when it is not sensible (its ``refusal``):
    what ``curate plan`` and ``curate.plan`` do unless asked to extrapolate."""
    refusal = the_plan.extra.get("refusal")
    if refusal:
        raise InfeasibleError(f"plan: not sensible at {the_plan.compute:.3g} FLOPs: {refusal} "
                              f"(--allow-extrapolation, or allow_extrapolation=True, plans it anyway)")
    return the_plan


def frontier(
    buckets: BucketsSource,
    computes: Iterable[float],
    params: float | None = None,
    max_epochs: float | None = None,
    law: str | Law | CalibratedLaw = "datablations",
    ranges: bool = False,
) -> list[Plan]:
    """The plan at each compute budget: shows where lower buckets enter as compute grows. Plans that
    are not sensible are kept, with their ``refusal`` (the table and plot mark them).

    Without epochs ranges by default: they replan every bootstrap draw at every budget.
    """
    given, resolved = load_buckets(buckets, law)
    return [plan(given, c, params=params, max_epochs=max_epochs, law=resolved, ranges=ranges) for c in computes]


def buckets_with_law(buckets: Sequence[Bucket], calibrated: CalibratedLaw | None) -> list[Bucket]:
    """The buckets with a calibrated law's utility and R_D* (unchanged without bucket fits)."""
    if calibrated is None or not calibrated.has_buckets:
        return list(buckets)
    out = []
    for b in buckets:
        utility, r_d = calibrated.bucket_values(b.name)
        out.append(replace(b, utility=utility, r_d=r_d))
    return out


# ---------------------------------------------------------------------------------------------
# The default epoch cap


def repetition_series(resolved: Law | CalibratedLaw) -> tuple[list[guard.Series], str]:
    """The repetition series of the runs a law was fitted on, and their name for messages."""
    if isinstance(resolved, CalibratedLaw):
        return list(resolved.series), f"the runs law '{resolved.name}' was calibrated on"
    if resolved in (DATABLATIONS, CHINCHILLA):  # chinchilla borrows datablations' repetition constant
        return guard.series_from_runs(datablations_runs()), "datablations' 182 runs"
    return [], f"law '{resolved.name}'"


def _plan_with_cap(buckets: Sequence[Bucket], compute: float, params: float | None, max_epochs: float | None,
                   law_obj: Law, series: Sequence[guard.Series], source: str,
                   pools: Sequence[str]) -> tuple[Plan, float | None, str | None]:
    """The plan, the epoch cap in force and, for a default cap, where it comes from: `max_epochs` if
    given (inf: none), else the most repetition seen to help at the plan's N (replanning while that
    lowers the cap: the cap only falls, so this settles), else the law's fit range in epochs."""
    if max_epochs is not None:
        cap = None if math.isinf(max_epochs) else max_epochs
        return plan_once(buckets, compute, params, cap, law_obj), cap, None
    if not series:
        cap = ((law_obj.fit_range or {}).get("epochs") or [None, None])[1]
        why = f"the {cap:g} epochs law '{law_obj.name}' was fitted up to" if cap else ""
        return _capped(buckets, compute, params, cap, law_obj, why), cap, why or None
    result = plan_once(buckets, compute, params, None, law_obj)
    cap, why = math.inf, None
    for _ in range(_CAP_ROUNDS):
        evidence = guard.evidence_at(series, result.params, source, pools)
        if evidence.epochs is None:
            return result, (None if math.isinf(cap) else cap), why
        if math.isinf(cap):
            if max(b.epochs for b in result.buckets) <= evidence.epochs * (1 + 1e-9):
                return result, evidence.epochs, evidence.describe()  # the cap does not bind
        elif evidence.epochs >= cap:
            return result, cap, why  # its own N's runs allow at least the cap in force
        cap, why = evidence.epochs, evidence.describe()
        result = _capped(buckets, compute, params, cap, law_obj, f"the {cap:.4g} epochs up to which repetition was "
                         f"seen to help at comparable N ({why})")
    return result, cap, why


def _capped(buckets: Sequence[Bucket], compute: float, params: float | None, cap: float | None, law_obj: Law,
            why: str) -> Plan:
    """plan_once under a default cap; an infeasible fixed model size says which default bound it."""
    try:
        return plan_once(buckets, compute, params, cap, law_obj)
    except InfeasibleError as exc:
        raise InfeasibleError(f"{exc} (the default --max-epochs is {why}; give --max-epochs to allow more)") from None


# ---------------------------------------------------------------------------------------------
# Saturation, ranges, refusal


def _saturation(buckets: Sequence[Bucket], compute: float, params: float | None, max_epochs: float | None,
                law_obj: Law, result: Plan, fraction: float) -> dict[str, Any] | None:
    """plan.json's ``saturation``: what a doubling of compute buys, and the useful compute if saturated."""

    def loss_at(c: float) -> float:
        if c == compute:
            return result.predicted_loss
        return plan_once(buckets, c, params, max_epochs, law_obj).predicted_loss

    try:
        gain = limits.doubling_gain(loss_at, compute, law_obj.E)
        saturated = gain < fraction
        useful = limits.useful_compute(loss_at, compute, law_obj.E, fraction) if saturated else None
    except InfeasibleError:  # 2C does not fit in max_epochs at a fixed N: no doubling to compare
        return None
    return {"threshold": fraction, "doubling_gain": gain, "saturated": saturated, "useful_compute": useful}


def _draws(resolved: Law | CalibratedLaw, buckets: Sequence[Bucket]) -> list[tuple[list[Bucket], Law]]:
    """(buckets, law) under every bootstrap draw: a calibrated law's own, or the built-in draws."""
    if isinstance(resolved, CalibratedLaw):
        out = []
        for values in resolved.draws:
            draw = resolved.with_values(values)
            out.append((buckets_with_law(buckets, draw), draw.law))
        return out
    return [(list(buckets), law) for law in builtin_draws(resolved)]


def _level(resolved: Law | CalibratedLaw) -> float:
    if isinstance(resolved, CalibratedLaw):
        return float((resolved.document.get("intervals") or {}).get("level", 0.95))
    return draws_level()


def _draws_source(resolved: Law | CalibratedLaw) -> str:
    if isinstance(resolved, CalibratedLaw):
        return f"bootstrap draws of law '{resolved.name}'"
    return "bootstrap refits of R_D* and R_N* on datablations' 182 runs (curate/planner/data)"


def _ranges(draws: Sequence[tuple[list[Bucket], Law]], compute: float, params: float | None, max_epochs: float | None,
            result: Plan, level: float, source: str) -> tuple[tuple[BucketPlan, ...], dict[str, Any]]:
    """Replan under every draw (N searched near the plan's); per-bucket epochs ranges and ``ranges``."""
    epochs, n, loss = [], [], []
    for draw_buckets, law in draws:
        q = plan_once(draw_buckets, compute, params, max_epochs, law, around=result.params)
        epochs.append([b.epochs for b in q.buckets])
        n.append(q.params)
        loss.append(q.predicted_loss)
    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)
    e = np.array(epochs)
    lo, hi = np.percentile(e, lo_q, axis=0), np.percentile(e, hi_q, axis=0)
    rows = tuple(replace(b, epochs_range=[float(lo[i]), float(hi[i])]) for i, b in enumerate(result.buckets))
    summary = {"draws": len(epochs), "level": level, "source": source,
               "params": [float(np.percentile(n, lo_q)), float(np.percentile(n, hi_q))],
               "predicted_loss": [float(np.percentile(loss, lo_q)), float(np.percentile(loss, hi_q))]}
    return rows, summary


def _refusal(buckets: Sequence[Bucket], compute: float, params: float | None, max_epochs: float | None, law_obj: Law,
             result: Plan, saturation: dict[str, Any] | None, fraction: float) -> str | None:
    """One line: why the plan is not sensible and what would make it so; None when it is sensible."""
    reasons, advice = [], []
    unique = sum(b.unique_tokens for b in buckets)
    saturated = bool(saturation and saturation["saturated"])
    if saturated:
        reasons.append(f"compute is saturated (doubling {compute:.3g} FLOPs buys {100 * saturation['doubling_gain']:.2g}% "
                       f"of the remaining reducible loss, under {fraction:.0%})")
        useful = saturation["useful_compute"]
        needed = _unique_needed(buckets, compute, params, max_epochs, law_obj, fraction)
        advice.append(f"about {useful:.3g} FLOPs is what these buckets can use" if useful else
                      "a smaller compute is what these buckets can use")
        if needed is not None:
            advice.append(f"{compute:.3g} FLOPs would need about {human(needed)} unique tokens (these buckets hold "
                          f"{human(unique)})")
    span = (law_obj.fit_range or {}).get("params")
    factor = limits.outside_factor(result.params, span)
    if factor > limits.RANGE_FACTOR:
        lo, hi = span[0], span[1]
        shown = f"{'-' if lo is None else human(lo)}..{'-' if hi is None else human(hi)}"
        reasons.append(f"the model (N = {human(result.params)}) is {factor:.3g}x outside the {shown} parameters law "
                       f"'{law_obj.name}' was fitted on (more than {limits.RANGE_FACTOR:g}x)")
        edge = lo if lo is not None and result.params < lo else hi
        if result.params_fixed:
            advice.append("fix --params inside that range")
        elif not saturated and edge is not None:
            advice.append(f"a compute-optimal model has {human(edge)} parameters at about "
                          f"{law_obj.compute_for_params(edge):.3g} FLOPs (fresh data)")
    per_param = result.tokens / result.params
    if per_param < limits.MIN_TOKENS_PER_PARAM:
        reasons.append(f"{per_param:.3g} tokens per parameter (N = {human(result.params)} on D = "
                       f"{human(result.tokens)}, under {limits.MIN_TOKENS_PER_PARAM:g})")
        if result.params_fixed:
            advice.append(f"a {human(result.params)}-parameter model needs at least {6 * result.params**2:.3g} FLOPs "
                          f"for one token per parameter")
        elif not saturated and max_epochs is not None:
            advice.append(f"{max_epochs:.4g} epochs of {human(unique)} unique tokens keep D >= N up to "
                          f"{6 * (max_epochs * unique)**2:.3g} FLOPs; more needs unique tokens or --max-epochs")
    if not reasons:
        return None
    return "; ".join(reasons) + ". " + "; ".join(advice)


def _unique_needed(buckets: Sequence[Bucket], compute: float, params: float | None, max_epochs: float | None,
                   law_obj: Law, fraction: float) -> float | None:
    """Unique tokens (every bucket scaled alike) at which `compute` is no longer saturated."""

    def excess(log_scale: float) -> float:
        scaled = [replace(b, unique_tokens=b.unique_tokens * math.exp(log_scale)) for b in buckets]
        try:
            gain = limits.doubling_gain(lambda c: plan_once(scaled, c, params, max_epochs, law_obj).predicted_loss,
                                        compute, law_obj.E)
        except InfeasibleError:
            return -fraction
        return gain - fraction

    scale = limits.smallest_scale(excess)
    return None if scale is None else scale * sum(b.unique_tokens for b in buckets)
