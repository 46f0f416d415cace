"""Compute-budget planner: epochs per quality bucket and model size from data-constrained scaling laws.

Pure math (``laws``, ``budget``); ``plans`` adds what the law's runs say (ranges, the overfitting
guard, limits, refusals); ``calibrate`` fits laws from proxy runs; ``report`` renders plans and
calibrations as text tables and PNG plots.
"""

import importlib
from typing import Any

# name -> the module that defines it: imported on first use, so that a module that needs one part
# of the planner (the sampler's phases, `curate stages`) does not import SciPy's fits (issue 34)
_NAMES: dict[str, str] = {
    "Bucket": "curate.planner.budget",
    "BucketPlan": "curate.planner.budget",
    "Plan": "curate.planner.budget",
    "allocate": "curate.planner.budget",
    "buckets_for_law": "curate.planner.budget",
    "buckets_from_dict": "curate.planner.budget",
    "buckets_to_dict": "curate.planner.budget",
    "log_space": "curate.planner.budget",
    "plan_once": "curate.planner.budget",
    "plan_warnings": "curate.planner.budget",
    "Calibration": "curate.planner.calibration",
    "calibrate": "curate.planner.calibration",
    "CalibratedLaw": "curate.planner.lawfile",
    "read_law": "curate.planner.lawfile",
    "resolve_law": "curate.planner.lawfile",
    "CHINCHILLA": "curate.planner.laws",
    "DATABLATIONS": "curate.planner.laws",
    "LAWS": "curate.planner.laws",
    "Law": "curate.planner.laws",
    "effective_tokens": "curate.planner.laws",
    "get_law": "curate.planner.laws",
    "frontier": "curate.planner.plans",
    "plan": "curate.planner.plans",
    "require_sensible": "curate.planner.plans",
    "Runs": "curate.planner.runs",
    "read_runs": "curate.planner.runs",
    "runs_from_rows": "curate.planner.runs",
    "load_buckets": "curate.planner.sources",
}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'curate.planner' has no attribute {name!r}")


__all__ = [
    "Bucket",
    "BucketPlan",
    "Plan",
    "allocate",
    "buckets_for_law",
    "buckets_from_dict",
    "buckets_to_dict",
    "frontier",
    "log_space",
    "load_buckets",
    "plan",
    "plan_once",
    "require_sensible",
    "plan_warnings",
    "CHINCHILLA",
    "DATABLATIONS",
    "LAWS",
    "Law",
    "effective_tokens",
    "get_law",
    "CalibratedLaw",
    "Calibration",
    "Runs",
    "calibrate",
    "read_law",
    "read_runs",
    "resolve_law",
    "runs_from_rows",
]
