"""Proxy-run training sets from drawn mixtures (``curate sample --mixture``).

RegMix trains one small model per drawn mixture on that mixture of the domains' own data (Liu et
al. 2024, section 2.2): a domain's share of a proxy run is a sample of the domain as it is. So a
proxy plan gives every (domain, quality) bucket of domain j the same epochs, x_j D / U_j (its
share of the run's D tokens over the domain's unique tokens): the domain's quality buckets in
their natural proportions, which is also what the budget planner's water-filling gives equal
utilities without repetition. A proxy run that would repeat a domain is warned about: the law fitted on
such runs reads shares as fresh tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from curate.errors import ConfigError
from curate.planner.mixture.runs import MixtureRuns


def domain_tokens(buckets_doc: Mapping[str, Any], where: str) -> dict[str, float]:
    """Unique tokens per domain (the buckets of a domain add up); ConfigError for a bucket without one."""
    from curate.planner.mixture.draw import natural_distribution

    return natural_distribution(buckets_doc, where)[0]


def proxy_plan(buckets_doc: Mapping[str, Any], mixture: Mapping[str, float], tokens: float, name: str,
               where: str) -> dict[str, Any]:
    """The plan.json of one proxy run: epochs per bucket (see the module docstring), and warnings."""
    if not tokens > 0:
        raise ConfigError(f"a proxy run needs a positive number of tokens, got {tokens}")
    unique = domain_tokens(buckets_doc, where)
    unknown = sorted(d for d, x in mixture.items() if x > 0 and not unique.get(d, 0.0) > 0)
    if unknown:
        raise ConfigError(f"mixture '{name}': domain(s) {', '.join(unknown)} get a share but have no tokens in {where} "
                          f"(its domains: {', '.join(sorted(d for d, u in unique.items() if u > 0))})")
    epochs = {d: float(mixture.get(d, 0.0)) * tokens / u for d, u in unique.items() if u > 0}
    warnings = [f"mixture '{name}': domain '{d}' is read {e:.3g} times ({mixture[d]:.3g} of {tokens:.4g} tokens, "
                f"{unique[d]:.4g} unique): a proxy run should not repeat data" for d, e in epochs.items() if e > 1]
    buckets = [{"name": b["name"], "domain": b["domain"], "quality": b.get("quality", b["name"]),
                "unique_tokens": float(b["unique_tokens"]), "epochs": epochs.get(b["domain"], 0.0),
                "tokens": epochs.get(b["domain"], 0.0) * float(b["unique_tokens"])}
               for b in buckets_doc["buckets"]]
    return {"kind": "proxy", "name": name, "mixture": dict(mixture), "tokens": float(tokens), "buckets": buckets,
            "warnings": warnings}


def proxy_plans(buckets_doc: Mapping[str, Any], runs: MixtureRuns, tokens: float,
                where: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, plan.json) of every drawn mixture in `runs`, in their order."""
    out: list[tuple[str, dict[str, Any]]] = []
    for r, name in enumerate(runs.names):
        mixture = {d: float(x) for d, x in zip(runs.domains, runs.proportions[r])}
        out.append((name, proxy_plan(buckets_doc, mixture, tokens, name, where)))
    return out


def check_names(names: Sequence[str]) -> None:
    """Proxy runs become folders OUTPUT/<name>: names must be plain folder names."""
    bad = [n for n in names if not n or n in (".", "..") or "/" in n or "\\" in n or n.startswith("_")]
    if bad:
        raise ConfigError(f"mixture name(s) {', '.join(map(repr, bad[:5]))} cannot name a folder under OUTPUT "
                          "(no '/', no leading '_')")
