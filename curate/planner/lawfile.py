"""Calibrated laws: the ``law.json`` file ``curate calibrate`` writes and the planner reads.

A calibrated law is a :class:`~curate.planner.laws.Law` (base constants, a global R_D* and R_N*)
plus, for bucket fits, a utility and an R_D* per bucket, the range of runs it was fitted on, and
the bootstrap draws (each draw is again a full set of values, so plans can show ranges).

Values are kept flat by name: ``E``, ``A``, ``B``, ``alpha``, ``beta``, ``r_d_star``,
``r_n_star`` and, per bucket, ``utility:<bucket>`` and ``r_d_star:<bucket>``.

A law.json has a ``kind``, and :data:`LAW_KINDS` maps each kind to its reader:

- ``repetition``: a data-constrained law (Muennighoff et al. 2023: repeated tokens and excess
  parameters decay), with per-bucket utility and R_D* when fitted on buckets;
- ``base``: a Chinchilla-style base law (Hoffmann et al. 2022, approach 3) fitted on runs of at
  most one epoch, its repetition constants those of the base it started from;
- ``mixture``: a law over domain proportions (Data Mixing Laws' exponential form, or RegMix's
  regressors; curate.planner.mixture).

A file without ``kind`` (written before the field existed) is read as ``repetition`` (both kinds
share one schema). Another kind is added with one entry in ``LAW_KINDS``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from curate.errors import ConfigError, InputError
from curate.planner.guard import Series
from curate.planner.laws import LAWS, Law
from curate.store.storage import Storage

LAW_FORMAT = "curate-law/1"
BASE_KEYS = ("E", "A", "B", "alpha", "beta")
# law.json kinds besides the repetition law (no ``kind``): "module:function" parsing such a document


@dataclass(frozen=True)
class CalibratedLaw:
    """A law with per-bucket utility and R_D*, its fit range and bootstrap draws."""

    law: Law
    utility: Mapping[str, float] = field(default_factory=dict)
    r_d: Mapping[str, float] = field(default_factory=dict)
    bucket_range: Mapping[str, Mapping[str, Sequence[float]]] = field(default_factory=dict)
    draws: Sequence[Mapping[str, float]] = ()
    bucket_definition: Mapping[str, Any] | None = None
    document: Mapping[str, Any] = field(default_factory=dict)
    series: Sequence[Series] = ()  # repetition series of the runs it was fitted on (curate.planner.guard)

    @property
    def name(self) -> str:
        return self.law.name

    @property
    def has_buckets(self) -> bool:
        return bool(self.utility)

    def bucket_values(self, name: str) -> tuple[float | None, float | None]:
        """(utility, R_D*) the law gives bucket `name`; (None, None) for a law without bucket fits."""
        if not self.has_buckets:
            return None, None
        if name not in self.utility:
            raise ConfigError(f"law '{self.name}' was calibrated for buckets {', '.join(sorted(self.utility))}; "
                              f"it has no bucket '{name}'")
        return self.utility[name], self.r_d.get(name)

    def values(self) -> dict[str, float]:
        """The flat values of this law."""
        return law_values(self.law, self.utility, self.r_d)

    def with_values(self, values: Mapping[str, float]) -> CalibratedLaw:
        """The same law with other values (a bootstrap draw), without draws of its own."""
        law, utility, r_d = split_values(values, self.law)
        return replace(self, law=law, utility=utility, r_d=r_d, draws=())

    def check_definition(self, buckets_doc: Mapping[str, Any], where: str) -> None:
        """ConfigError unless buckets.json was made the way the calibrated buckets were."""
        if self.bucket_definition is None:
            return
        given = bucket_definition(buckets_doc)
        want = self.bucket_definition
        for key in ("score_column", "method", "names", "quantiles", "cuts", "classifier_sha256"):
            if key == "cuts" and want.get("method") == "quantiles":
                continue  # quantile cuts follow the corpus; the levels define the buckets
            if key == "classifier_sha256" and given.get(key) is None:
                continue
            if want.get(key) != given.get(key):
                raise ConfigError(
                    f"{where}: bucket definition differs from the one law '{self.name}' was calibrated on: "
                    f"{key} is {given.get(key)!r} here, {want.get(key)!r} in the law; the utilities would not apply"
                )


def bucket_definition(buckets_doc: Mapping[str, Any], classifier_sha256: str | None = None) -> dict[str, Any]:
    """What defines the buckets of a buckets.json (quality_buckets stage): score column, method, cuts."""
    return {
        "score_column": buckets_doc.get("score_column"),
        "method": buckets_doc.get("method"),
        "names": [b.get("name") for b in buckets_doc.get("buckets", []) if isinstance(b, Mapping)],
        "quantiles": buckets_doc.get("quantiles"),
        "cuts": buckets_doc.get("cuts"),
        "classifier_sha256": classifier_sha256 or buckets_doc.get("classifier_sha256"),
    }


def law_values(law: Law, utility: Mapping[str, float] | None = None, r_d: Mapping[str, float] | None = None) -> dict[str, float]:
    """Flat values of a law and its per-bucket constants (``r_n_star`` is absent for laws without it)."""
    out = {"E": law.E, "A": law.A, "B": law.B, "alpha": law.alpha, "beta": law.beta, "r_d_star": law.r_d}
    if law.r_n is not None:
        out["r_n_star"] = law.r_n
    for b, w in (utility or {}).items():
        out[f"utility:{b}"] = w
    for b, r in (r_d or {}).items():
        out[f"r_d_star:{b}"] = r
    return out


def split_values(values: Mapping[str, float], template: Law) -> tuple[Law, dict[str, float], dict[str, float]]:
    """(Law, utility per bucket, R_D* per bucket) from flat values; `template` gives name, source, range."""
    law = replace(
        template,
        E=values["E"], A=values["A"], B=values["B"], alpha=values["alpha"], beta=values["beta"],
        r_d=values["r_d_star"], r_n=values.get("r_n_star"),
    )
    utility = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("utility:")}
    r_d = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("r_d_star:")}
    return law, utility, r_d


def resolve_law(spec: str | Path | Law | CalibratedLaw, storage: Storage | None = None) -> Law | CalibratedLaw:
    """A law by name (``datablations``, ``chinchilla``), a law.json path or URI (read with
    `storage`, default the environment's options), or the object itself."""
    if isinstance(spec, (Law, CalibratedLaw)):
        return spec
    if str(spec) in LAWS:
        return LAWS[str(spec)]
    storage = storage or Storage()
    if str(spec).endswith(".json") or storage.file_exists(spec):  # a local path or a URI
        law = read_law(spec, storage)
        if not isinstance(law, (Law, CalibratedLaw)):
            raise ConfigError(f"{spec}: a law of kind '{law.kind}'; the budget planner reads repetition laws")
        return law
    raise ConfigError(f"unknown law '{spec}' (known: {', '.join(sorted(LAWS))}, or a law.json file)")


def read_law(path: str | Path, storage: Storage | None = None) -> Any:
    """Read a law.json written by ``curate calibrate`` (a local path or a URI, read with
    `storage`, default the environment's options): the reader of its ``kind`` (LAW_KINDS) gives a
    CalibratedLaw for repetition and base laws, a MixtureLaw for mixture laws; errors name the
    file and key."""
    try:
        doc = json.loads((storage or Storage()).stage_file(path, "law file").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read law JSON: {exc}", file=str(path)) from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: not a law.json ({LAW_FORMAT}): expected a JSON object")
    kind = doc.get("kind", DEFAULT_KIND)
    reader = LAW_KINDS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise ConfigError(f"{path}: unknown law kind {kind!r} (known kinds: {', '.join(sorted(LAW_KINDS))})")
    try:
        return reader(doc, str(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a {kind} law.json ({LAW_FORMAT}): {exc!r}") from None


def law_from_dict(doc: Mapping[str, Any], name: str | None = None) -> CalibratedLaw:
    """Parse a law.json document (see docs/planner.md, "law.json"); `name` (e.g. its path) names the law."""
    if doc.get("format") != LAW_FORMAT:
        raise ValueError(f"'format' is {doc.get('format')!r}, expected {LAW_FORMAT!r}")
    base = doc["base"]
    values: dict[str, float] = {k: _finite(base[k], f"base.{k}") for k in BASE_KEYS}
    values["r_d_star"] = _finite(doc["r_d_star"], "r_d_star")
    if doc.get("r_n_star") is not None:
        values["r_n_star"] = _finite(doc["r_n_star"], "r_n_star")
    for b, entry in (doc.get("buckets") or {}).items():
        values[f"utility:{b}"] = _finite(entry["utility"], f"buckets.{b}.utility")
        if entry.get("r_d_star") is not None:
            values[f"r_d_star:{b}"] = _finite(entry["r_d_star"], f"buckets.{b}.r_d_star")
    rng = doc.get("range") or {}
    template = Law(name=name or str(doc.get("name") or "calibrated"), A=1, B=1, E=1, alpha=1, beta=1,
                   source=str(doc.get("source", "")),
                   fit_range={k: rng[k] for k in ("params", "tokens", "epochs") if k in rng} or None)
    law, utility, r_d = split_values(values, template)
    boot = (doc.get("bootstrap") or {}).get("values") or {}
    n_draws = min((len(v) for v in boot.values()), default=0)
    draws = [{**values, **{k: float(v[j]) for k, v in boot.items()}} for j in range(n_draws)]
    series = tuple(Series.from_dict(s) for s in doc.get("repetition_series") or ())
    return CalibratedLaw(law=law, utility=utility, r_d=r_d, bucket_range=rng.get("buckets") or {},
                         draws=draws, bucket_definition=doc.get("bucket_definition"), document=doc, series=series)


def law_kind(fit_kinds: Sequence[str]) -> str:
    """The law.json ``kind`` for a calibration of `fit_kinds`: ``base`` for a base fit alone, else
    ``repetition`` (its repetition constants are fitted, or carried over from its base)."""
    return "base" if tuple(fit_kinds) == ("base",) else "repetition"


# kind -> reader of a law.json document (the document and its name, e.g. its path)
def _mixture_law(doc: Mapping[str, Any], name: str) -> Any:
    from curate.planner.mixture.law import mixture_law_from_dict  # mixture imports this module

    return mixture_law_from_dict(doc, name)


LAW_KINDS: dict[str, Callable[[Mapping[str, Any], str], Any]] = {
    "repetition": law_from_dict,
    "base": law_from_dict,
    "mixture": _mixture_law,  # Data Mixing Laws / RegMix (curate.planner.mixture)
}
DEFAULT_KIND = "repetition"  # law.json files written before ``kind`` existed


def _finite(x: Any, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
        raise ValueError(f"'{key}' must be a positive number, got {x!r}")
    return float(x)
