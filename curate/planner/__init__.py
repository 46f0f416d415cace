"""Compute-budget planner: epochs per quality bucket and model size from data-constrained scaling laws.

Pure math (``laws``, ``budget``); ``plans`` adds what the law's runs say (ranges, the overfitting
guard, limits, refusals); ``calibrate`` fits laws from proxy runs; ``report`` renders plans and
calibrations as text tables and PNG plots.
"""

from curate.planner.budget import (
    Bucket,
    BucketPlan,
    Plan,
    allocate,
    buckets_for_law,
    buckets_from_dict,
    buckets_to_dict,
    log_space,
    plan_once,
    plan_warnings,
)
from curate.planner.calibrate import Calibration, calibrate
from curate.planner.lawfile import CalibratedLaw, read_law, resolve_law
from curate.planner.laws import CHINCHILLA, DATABLATIONS, LAWS, Law, effective_tokens, get_law
from curate.planner.plans import frontier, plan, require_sensible
from curate.planner.runs import Runs, read_runs, runs_from_rows
from curate.planner.sources import load_buckets

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
