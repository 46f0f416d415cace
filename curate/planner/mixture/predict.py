"""Predict the loss of runs under any law (``curate predict``, ``curate.predict``): a mixture
law (law.json ``kind: mixture``) from each row's ``mixture``; a repetition law (built-in or
calibrated) from each row's ``params``, ``tokens`` and ``unique_tokens`` or ``buckets`` with the
planner's own model evaluation (:func:`curate.planner.calibration.predict_log_loss` over
:mod:`curate.planner.laws`). Rows keep their input order. Rows outside what the law was fitted on
are warned about, never refused: checking a law on runs it never saw is the point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate.planner.lawfile import CalibratedLaw, read_law
from curate.planner.laws import LAWS, Law
from curate.planner.mixture.law import MixtureLaw
from curate.planner.mixture.runs import MixtureRuns, mixture_runs_from_rows, read_mixture_runs
from curate.store.storage import Storage

AnyLaw = Law | CalibratedLaw | MixtureLaw


@dataclass(frozen=True)
class Predictions:
    """Predicted loss per run in input order, the measured target loss where a row gives it (NaN
    otherwise), and warnings about rows the law extrapolates to."""

    names: tuple[str, ...]
    predicted: np.ndarray
    measured: np.ndarray
    warnings: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """``{"name", "predicted_loss"}`` per run, with ``loss`` (measured) where known."""
        out = []
        for n, p, m in zip(self.names, self.predicted, self.measured):
            row: dict[str, Any] = {"name": n, "predicted_loss": float(p)}
            if np.isfinite(m):
                row["loss"] = float(m)
            out.append(row)
        return out


def load_law(spec: str | Path | AnyLaw, storage: Storage | None = None) -> AnyLaw:
    """A law object, a built-in law's name, or a law.json of any kind (a local path or a URI,
    read with `storage`, default the environment's options)."""
    if isinstance(spec, (Law, CalibratedLaw, MixtureLaw)):
        return spec
    if str(spec) in LAWS:
        return LAWS[str(spec)]
    return read_law(spec, storage)  # type: ignore[return-value]


def predict(law: str | Path | AnyLaw, runs: str | Path | Sequence[Mapping[str, Any]] | MixtureRuns,
            storage: Storage | None = None) -> Predictions:
    """The predicted loss of every run of `runs` (a file, rows, or parsed runs) under `law`; files
    are local paths or URIs read with `storage` (default: the environment's options)."""
    storage = storage or Storage()
    law_obj = load_law(law, storage)
    if isinstance(law_obj, MixtureLaw):
        return _predict_mixture(law_obj, runs, storage)
    return _predict_repetition(law_obj, runs, storage)


def _predict_mixture(law: MixtureLaw, runs: Any, storage: Storage) -> Predictions:
    if not isinstance(runs, MixtureRuns):
        runs = (read_mixture_runs(runs, need_losses=False, storage=storage) if isinstance(runs, (str, Path))
                else mixture_runs_from_rows(list(runs), need_losses=False))
    proportions, unknown = runs.aligned(law.domains)
    warnings = list(runs.warnings)
    for d in unknown:
        warnings.append(f"domain '{d}' is not one law '{law.name}' was fitted on: its share is left out and the "
                        "others rescaled to sum to 1")
    warnings += law.outside(proportions, runs.names)
    measured = np.full(len(runs), np.nan)
    have = [v for v, w in law.target.weights.items() if w > 0]
    if all(v in runs.validation for v in have):
        cols = [runs.validation.index(v) for v in have]
        measured = runs.losses[:, cols] @ np.array([law.target.weights[v] for v in have])
    return Predictions(runs.names, law.predict(proportions), measured, warnings)


def _predict_repetition(law: Law | CalibratedLaw, runs: Any, storage: Storage) -> Predictions:
    from curate.io.tables import read_rows
    from curate.planner.calibration import predict_log_loss
    from curate.planner.lawfile import law_values
    from curate.planner.limits import fit_range_warnings
    from curate.planner.runs import REFERENCE_POOL, Runs, runs_from_rows

    if isinstance(runs, (str, Path)):
        runs = runs_from_rows(read_rows(str(runs), storage), str(runs), need_loss=False)
    elif not isinstance(runs, Runs):
        runs = runs_from_rows(list(runs), need_loss=False)
    base = law.law if isinstance(law, CalibratedLaw) else law
    values = law.values() if isinstance(law, CalibratedLaw) else law_values(law)
    warnings = []
    if isinstance(law, CalibratedLaw) and law.has_buckets:
        for pool in runs.pools:
            if pool != REFERENCE_POOL and pool not in law.utility:
                warnings.append(f"bucket '{pool}' is not one law '{law.name}' was calibrated for: utility 1 and "
                                "the law's R_D* assumed")
    bucket_range = law.bucket_range if isinstance(law, CalibratedLaw) else {}
    epochs = runs.epochs
    for r, name in enumerate(runs.names):
        per_pool = {p or "(single pool)": float(epochs[r, j]) for j, p in enumerate(runs.pools)}
        warnings += [f"run {name}: {w}" for w in fit_range_warnings(base.name, base.fit_range, bucket_range,
                                                                    float(runs.params[r]),
                                                                    float(runs.total_tokens[r]), per_pool)]
    predicted = np.exp(predict_log_loss(values, runs))
    return Predictions(runs.names, predicted, runs.loss, warnings)
