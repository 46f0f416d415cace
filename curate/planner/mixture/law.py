"""A mixture law (law.json with ``kind: mixture``): a model of the target loss over training
proportions, the target's weights, the proportions it was fitted on and its bootstrap draws.

The document shares the law.json family's ``format``, ``name``, ``source``, ``intervals``,
``bootstrap``, ``fit``, ``range``, ``residuals`` and ``runs_fingerprint`` keys (docs/planner.md,
"law.json"); ``kind: mixture`` and ``model`` say how to read the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.planner.mixture.exponential import ExponentialModel
from curate.planner.mixture.regression import GbmModel, LinearModel
from curate.planner.mixture.runs import Target

KIND = "mixture"
MODELS = ("exponential", "linear", "gbm")
Model = ExponentialModel | LinearModel | GbmModel


@dataclass(frozen=True)
class MixtureLaw:
    """A fitted mixture law: ``predict`` maps proportions over ``domains`` to the target loss."""

    model: Model
    target: Target
    proportion_range: Mapping[str, Sequence[float]]
    name: str = "mixture"
    draws: Sequence[Model] = ()
    document: Mapping[str, Any] = field(default_factory=dict)

    kind = KIND

    @property
    def domains(self) -> tuple[str, ...]:
        return self.model.domains

    def predict(self, proportions: np.ndarray) -> np.ndarray:
        """Target loss at every row of `proportions` (rows over :attr:`domains`)."""
        return self.model.predict(np.atleast_2d(proportions))

    def outside(self, proportions: np.ndarray, names: Sequence[str]) -> list[str]:
        """One warning per training domain whose share in some row lies outside the shares the law
        was fitted on, naming the domain, the range and the rows."""
        out = []
        P = np.atleast_2d(proportions)
        for j, d in enumerate(self.domains):
            lo, hi = self.proportion_range[d]
            for side, mask, bound in (("above the largest", P[:, j] > hi + 1e-9, hi),
                                      ("below the smallest", P[:, j] < lo - 1e-9, lo)):
                if mask.any():
                    rows = [names[r] for r in np.flatnonzero(mask)]
                    shown = ", ".join(rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
                    out.append(f"domain '{d}': share {side} ({bound:.4g}) law '{self.name}' was fitted on, "
                               f"in {shown}: the prediction extrapolates")
        return out


def model_section(model: Model) -> dict[str, Any]:
    """law.json's model section (keyed by the model's kind)."""
    return {model.kind: model.values()}


def mixture_law_from_dict(doc: Mapping[str, Any], name: str | None = None) -> MixtureLaw:
    """Parse a ``kind: mixture`` law.json document (KeyError / TypeError / ValueError when malformed)."""
    kind = doc["model"]
    if kind not in MODELS:
        raise ValueError(f"'model' is {kind!r}, expected one of {', '.join(MODELS)}")
    domains = [str(d) for d in doc["domains"]]
    target = Target(str(doc["target"]["name"]), {str(k): float(v) for k, v in doc["target"]["weights"].items()})
    section = doc[kind]
    model: Model
    if kind == "exponential":
        weights = {v: target.weights.get(v, 0.0) for v in section}
        model = ExponentialModel.from_values(domains, weights, section)
    elif kind == "linear":
        model = LinearModel.from_values(domains, section)
    else:
        model = GbmModel.from_values(domains, section)
    for key, value in model.flat().items():
        if not math.isfinite(value):
            raise ValueError(f"'{key}' must be a finite number, got {value!r}")
    boot = (doc.get("bootstrap") or {}).get("values") or {}
    n_draws = min((len(v) for v in boot.values()), default=0)
    draws = [model.with_flat({**model.flat(), **{k: float(v[j]) for k, v in boot.items()}}) for j in range(n_draws)]
    rng = doc["range"]["proportions"]
    return MixtureLaw(model=model, target=target, name=name or str(doc.get("name") or KIND),
                      proportion_range={d: [float(rng[d][0]), float(rng[d][1])] for d in domains},
                      draws=draws, document=doc)
