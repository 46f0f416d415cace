"""Plan domains and quality together (``curate plan --law mixture.json``): the domain shares a
mixture law likes best within each domain's tokens, quality epochs inside each domain as the
budget planner allocates them, and the run's size from a repetition law.

1. **The run's size.** A mixture law has no model size or token count in it (its runs are all at
   one scale), so N and D come from the repetition law (``datablations`` by default) as the budget
   planner plans them over all the buckets (:func:`curate.planner.plans.plan`): N searched along
   C = 6 N D, or D given (N = C / 6D). That plan also sets the epoch cap (the overfitting guard
   unless ``max_epochs`` is given) and carries issue 29's limits and refusals.
2. **The shares.** Domain j given x_j D tokens spreads them over its (domain, quality) buckets by
   water-filling (:class:`~curate.planner.mixture.supply.DomainSupply`); the law is evaluated at
   the effective shares and the tokens lost to repetition are charged through the repetition
   law's data term (:mod:`curate.planner.mixture.optimize`). SLSQP for the exponential law (exact,
   tested against a brute-force grid), RegMix's seeded top-k search for the regressors.
3. **Ranges.** Under every bootstrap draw of the mixture law: the loss of the planned mixture,
   and the shares (and epochs) the draw would have chosen.
4. **Phases** (:mod:`curate.planner.phases`) reorder the planned tokens; when every phase gives
   proportions, they are the mixture and the planner evaluates it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from curate.errors import ConfigError
from curate.planner import guard, limits
from curate.planner.budget import Bucket, BucketPlan, Plan, buckets_for_law, plan_warnings
from curate.planner.lawfile import CalibratedLaw, resolve_law
from curate.planner.laws import R_D_STAR, Law, effective_tokens, repeat_value
from curate.planner.mixture.law import MixtureLaw
from curate.planner.mixture.optimize import (
    CANDIDATES,
    TOP_K,
    CandidatePool,
    MixtureObjective,
    RepetitionCharge,
    evaluate,
    natural_prior,
    search_shares,
    shares_cap,
    slsqp,
)
from curate.planner.mixture.supply import DomainSupply
from curate.planner.phases import PhaseSpec, fixed_mixture, parse_phases, with_phases
from curate.planner.plans import buckets_with_law, plan, repetition_series
from curate.planner.sources import read_buckets_json
from curate.store.storage import Storage

KIND = "mixture"
_LEVEL = 0.95


@dataclass(frozen=True)
class DomainBucket:
    """A bucket of buckets.json with its domain and quality (``quality_buckets`` with ``by``)."""

    bucket: Bucket
    domain: str
    quality: str


def domain_buckets(doc: Any, law: str | Law | CalibratedLaw, where: str,
                   storage: Storage | None = None) -> tuple[list[DomainBucket], Law | CalibratedLaw]:
    """The buckets of a buckets.json document, each with its ``domain`` (required) and ``quality``
    (default: its name), under the repetition law `law` (resolved and returned)."""
    buckets, resolved = buckets_for_law(doc, resolve_law(law, storage), where)
    calibrated = resolved if isinstance(resolved, CalibratedLaw) else None
    buckets = buckets_with_law(buckets, calibrated)
    out = []
    for b, entry in zip(buckets, doc["buckets"]):
        domain = entry.get("domain")
        if not isinstance(domain, str) or not domain:
            raise ConfigError(f"{where}: bucket '{b.name}' has no 'domain'; planning a mixture needs buckets by domain "
                              "and quality (quality_buckets with by: domain writes them)")
        quality = entry.get("quality", b.name)
        out.append(DomainBucket(b, domain, str(quality)))
    return out, resolved


def plan_mixture(law: MixtureLaw | str | os.PathLike[str], buckets: Mapping[str, Any] | str | os.PathLike[str],
                 compute: float, tokens: float | None = None, params: float | None = None,
                 max_epochs: float | None = None, repetition_law: str | Law | CalibratedLaw = "datablations",
                 phases: Sequence[Mapping[str, Any]] | Sequence[PhaseSpec] | None = None, ranges: bool = True,
                 allow_extrapolation: bool = True, search: str | None = None, seed: int = 0,
                 candidates: int = CANDIDATES, top_k: int = TOP_K, storage: Storage | None = None) -> Plan:
    """The plan of domain shares, (domain, quality) epochs, N and D for `compute` FLOPs under a
    mixture law (module docstring). `buckets` is a buckets.json document, path or URI whose
    buckets carry ``domain``; `tokens` (or `params`) fixes the run's size. Without
    `allow_extrapolation` a plan that is not sensible is an InfeasibleError (issue 29)."""
    mixture = _mixture_law(law, storage)
    if tokens is not None and params is not None:
        raise ConfigError("give the run's tokens or its parameters, not both")
    if tokens is not None:
        if not (tokens > 0 and math.isfinite(tokens)):
            raise ConfigError(f"tokens must be a positive number, got {tokens}")
        params = compute / (6.0 * tokens)
    where = str(buckets) if isinstance(buckets, (str, os.PathLike)) else "buckets"
    doc = read_buckets_json(buckets, storage) if isinstance(buckets, (str, os.PathLike)) else buckets
    found, resolved = domain_buckets(doc, repetition_law, where, storage)
    specs = None if phases is None else parse_phases([p.to_dict() if isinstance(p, PhaseSpec) else p for p in phases])
    warnings: list[str] = []
    used = [b for b in found if b.domain in mixture.domains]
    for d in sorted({b.domain for b in found} - set(mixture.domains)):
        warnings.append(f"domain '{d}' is not one law '{mixture.name}' was fitted on: its buckets get no tokens")
    for d in mixture.domains:
        if not any(b.domain == d and b.bucket.unique_tokens > 0 for b in used):
            warnings.append(f"domain '{d}' of law '{mixture.name}' has no tokens in {where}: its share is 0")
    if not used:
        raise ConfigError(f"{where}: no bucket is in a domain of law '{mixture.name}' ({', '.join(mixture.domains)})")

    base = plan([b.bucket for b in used], compute, params=params, max_epochs=max_epochs, law=resolved,
                ranges=ranges, allow_extrapolation=allow_extrapolation)
    law_obj = resolved.law if isinstance(resolved, CalibratedLaw) else resolved
    D = base.tokens
    supplies = tuple(_supply(d, [b for b in used if b.domain == d], base.max_epochs) for d in mixture.domains)
    objective = MixtureObjective(mixture.model, supplies, D, RepetitionCharge(law_obj.B, law_obj.beta, D))
    cap = shares_cap(objective)
    prior = natural_prior(mixture.domains, None, objective)
    search = search or ("slsqp" if mixture.model.kind == "exponential" else "topk")
    given = fixed_mixture(specs) if specs else None
    if given is not None:
        x = _given_shares(given, mixture.domains, cap)
        notes, method = [], "given by the phases' proportions (not optimised)"
    else:
        x, notes, method = search_shares(objective, cap, prior, search, seed, candidates, top_k)
    result = evaluate(mixture, objective, x, method, notes)
    rows = _rows(found, supplies, x, D)
    extra = _extras(base, mixture, result, supplies, x, search, law_obj)
    if ranges and mixture.draws and given is None:
        rows, extra["domains"] = _share_ranges(mixture, objective, cap, prior, x, search, seed, candidates, top_k,
                                               supplies, found, rows, extra["domains"])
    if ranges and result.loss_range is not None:
        extra["ranges"] = {**(extra.get("ranges") or {}), "draws": len(mixture.draws), "level": _LEVEL,
                           "source": f"bootstrap draws of law '{mixture.name}' (predicted loss, shares, epochs); "
                                     "params: the repetition law's",
                           "predicted_loss": result.loss_range}
    warnings += [w for w in base.warnings if not w.startswith("bucket '")]  # the base plan's own buckets: replanned
    warnings += _bucket_warnings(rows, base, resolved, law_obj)
    warnings += result.warnings
    u_used = float(sum(r.utility * min(r.tokens, r.unique_tokens) for r in rows))
    planned = replace(base, law=mixture.name, predicted_loss=result.predicted_loss, lam=math.nan, buckets=tuple(rows),
                      warnings=tuple(warnings), effective_data=float(result.effective_tokens.sum()),
                      unique_tokens_used=u_used, first_epoch_premium=0.0, extra=extra)
    return with_phases(planned, specs) if specs else planned


def _mixture_law(law: Any, storage: Storage | None) -> MixtureLaw:
    if isinstance(law, MixtureLaw):
        return law
    from curate.planner.lawfile import read_law

    found = read_law(law, storage)
    if not isinstance(found, MixtureLaw):
        raise ConfigError(f"{law}: a law of kind '{getattr(found, 'kind', 'repetition')}'; planning domains needs a "
                          "mixture law (curate calibrate --fit mixture)")
    return found


def _supply(domain: str, members: Sequence[DomainBucket], max_epochs: float | None) -> DomainSupply:
    b = [m.bucket for m in members]
    return DomainSupply.build(domain, [x.name for x in b], [x.unique_tokens for x in b], [x.utility for x in b],
                              [x.r_d for x in b] if b and all(x.r_d is not None for x in b) else None, max_epochs)


def _given_shares(given: Mapping[str, float], domains: Sequence[str], cap: np.ndarray) -> np.ndarray:
    unknown = sorted(set(given) - set(domains))
    if unknown:
        raise ConfigError(f"phases: proportions name domain(s) {', '.join(unknown)} the law has not "
                          f"(have: {', '.join(domains)})")
    x = np.array([given.get(d, 0.0) for d in domains])
    over = np.flatnonzero(x > cap + 1e-9)
    if over.size:
        from curate.errors import InfeasibleError

        j = int(over[0])
        raise InfeasibleError(f"phases: their proportions give domain '{domains[j]}' a share of {x[j]:.4g}, more "
                              f"than its tokens allow ({cap[j]:.4g} within the epoch cap)")
    return x / x.sum()


def _rows(used: Sequence[DomainBucket], supplies: Sequence[DomainSupply], x: np.ndarray, D: float) -> list[BucketPlan]:
    """Per (domain, quality) bucket: tokens, epochs, effective tokens and marginal value at shares x."""
    tokens: dict[str, float] = {}
    r_d: dict[str, float] = {}
    for j, s in enumerate(supplies):
        for name, t, rd in zip(s.buckets, s.allocate(x[j] * D), s.r_d):
            tokens[name], r_d[name] = float(t), float(rd)
    out = []
    for m in used:
        b = m.bucket
        t, rd = tokens.get(b.name, 0.0), r_d.get(b.name, R_D_STAR if b.r_d is None else b.r_d)  # out of the law: none
        rv = float(repeat_value(t, b.unique_tokens, rd)) if b.unique_tokens > 0 else 0.0
        out.append(BucketPlan(name=b.name, unique_tokens=b.unique_tokens, utility=b.utility, tokens=t,
                              epochs=t / b.unique_tokens if b.unique_tokens > 0 else 0.0,
                              effective_tokens=float(effective_tokens(t, b.unique_tokens, rd)),
                              marginal_value=b.utility * rv, repeat_value=rv, domain=m.domain, quality=m.quality))
    return out


def _extras(base: Plan, mixture: MixtureLaw, result: Any, supplies: Sequence[DomainSupply], x: np.ndarray,
            search: str, law_obj: Law) -> dict[str, Any]:
    """plan.json's keys after ``warnings`` for a mixture plan: the base plan's limits and refusal,
    the mixture law, the loss's parts and the plan per domain."""
    D = base.tokens
    domains = {}
    for j, (d, s) in enumerate(zip(mixture.domains, supplies)):
        t = float(x[j] * D)
        u = s.unique_tokens
        domains[d] = {"share": float(x[j]), "effective_share": float(result.effective_shares[j]), "tokens": t,
                      "unique_tokens": u, "epochs": t / u if u > 0 else 0.0,
                      "effective_tokens": float(result.effective_tokens[j]),
                      "marginal_value": float(s.marginal(t)) if t > 0 else None}
    kept = ("fit_range", "max_epochs_default", "repetition_evidence", "saturation", "refusal", "n_tie_break")
    out: dict[str, Any] = {
        "kind": KIND,
        "mixture_law": {"name": mixture.name, "model": mixture.model.kind, "target": mixture.target.name},
        "repetition_law": law_obj.name,
        "law_loss": result.law_loss,
        "repetition_charge": result.repetition_charge,
        "search": search,
        "method": result.method,
        "domains": domains,
        **{k: base.extra.get(k) for k in kept},
    }
    base_ranges = base.extra.get("ranges")
    if base_ranges:
        out["ranges"] = {"params": base_ranges["params"]}
    return out


def _share_ranges(mixture: MixtureLaw, objective: MixtureObjective, cap: np.ndarray, prior: np.ndarray, x: np.ndarray,
                  search: str, seed: int, candidates: int, top_k: int, supplies: Sequence[DomainSupply],
                  used: Sequence[DomainBucket], rows: Sequence[BucketPlan],
                  domains: dict[str, Any]) -> tuple[list[BucketPlan], dict[str, Any]]:
    """The shares (and epochs per bucket) every bootstrap draw of the law would choose: SLSQP from
    the plan's shares, or the same candidates ranked under the draw."""
    pool = CandidatePool.draw(objective, cap, prior, seed, candidates) if search == "topk" else None
    shares = []
    for draw in mixture.draws:
        if pool is not None:
            shares.append(pool.best(draw, top_k))
        else:
            shares.append(slsqp(replace(objective, model=draw), cap, [x]))
    S = np.array(shares)
    lo_q, hi_q = 50 * (1 - _LEVEL), 50 * (1 + _LEVEL)
    lo, hi = np.percentile(S, lo_q, axis=0), np.percentile(S, hi_q, axis=0)
    domains = {d: {**v, "share_range": [float(lo[j]), float(hi[j])]} for j, (d, v) in enumerate(domains.items())}
    epochs = np.array([[r.epochs for r in _rows(used, supplies, s, objective.tokens)] for s in S])
    e_lo, e_hi = np.percentile(epochs, lo_q, axis=0), np.percentile(epochs, hi_q, axis=0)
    rows = [replace(r, epochs_range=[float(e_lo[i]), float(e_hi[i])]) for i, r in enumerate(rows)]
    return rows, domains


def _bucket_warnings(rows: Sequence[BucketPlan], base: Plan, resolved: Law | CalibratedLaw, law_obj: Law) -> list[str]:
    """The budget planner's warnings about the mixture's buckets: heavy repetition, epochs beyond
    what repetition was seen to help at this N, epochs outside the repetition law's fit range."""
    epochs = {r.name: r.epochs for r in rows}
    series, source = repetition_series(resolved)
    evidence = guard.evidence_at(series, base.params, source, list(epochs))
    bucket_range = resolved.bucket_range if isinstance(resolved, CalibratedLaw) else {}
    fit = [w for w in limits.fit_range_warnings(law_obj.name, law_obj.fit_range, bucket_range, base.params,
                                                base.tokens, epochs) if w.startswith("bucket '")]
    return plan_warnings(rows) + guard.overfitting_warnings(epochs, evidence) + fit
