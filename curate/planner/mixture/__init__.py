"""Domain mixtures: laws of the loss over training-domain proportions, fitted from proxy runs.

- :mod:`runs`: mixture runs (one proxy run a row) and the target loss;
- :mod:`exponential`: Ye et al. 2024's data mixing law; :mod:`regression`: RegMix's regressors;
- :mod:`law`: the fitted law (law.json ``kind: mixture``); :mod:`calibrate`: the fit and its scores;
- :mod:`predict`: the loss of runs under any law; :mod:`draw`: RegMix's proxy-run mixtures;
- :mod:`optimize`: the best proportions under per-domain token caps; :mod:`report`: text and plots.
"""

from curate.planner.mixture.calibrate import MixtureCalibration, calibrate_mixture, rank_scores
from curate.planner.mixture.law import MixtureLaw, mixture_law_from_dict
from curate.planner.mixture.predict import Predictions, predict
from curate.planner.mixture.runs import (
    MixtureRuns,
    Target,
    mixture_runs_from_rows,
    read_mixture_runs,
    resolve_target,
)

__all__ = [
    "MixtureCalibration",
    "MixtureLaw",
    "MixtureRuns",
    "Predictions",
    "Target",
    "calibrate_mixture",
    "mixture_law_from_dict",
    "mixture_runs_from_rows",
    "predict",
    "rank_scores",
    "read_mixture_runs",
    "resolve_target",
]
