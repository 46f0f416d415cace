"""What the built-in laws carry besides their constants: the runs they were fitted on, and
bootstrap draws refitted on those runs (curate/planner/data/, sources in its README.md).

- ``datablations_runs()``: Muennighoff et al. 2023's 182 runs, as :class:`~curate.planner.runs.Runs`.
- ``builtin_draws(law)``: the built-in law under every shipped draw of R_D* and R_N* (the
  ``chinchilla`` law borrows datablations' R_D*, so it takes the R_D* draws only), for the ranges
  every plan shows; ``draws_document()`` is the file itself (how it was made).

The draws are regenerated from the package copy of the runs by
``python -m curate.planner.make_builtin_draws``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

from curate.planner.laws import CHINCHILLA, DATABLATIONS, Law
from curate.planner.runs import Runs, runs_from_rows

RUNS_FILE = "datablations_runs.json"
DRAWS_FILE = "builtin_draws.json"
_PACKAGE_DATA = "curate/planner/data"


def data_file(name: str) -> Any:
    """A file of curate/planner/data (an importlib.resources Traversable)."""
    return resources.files("curate.planner").joinpath("data", name)


@cache
def datablations_runs() -> Runs:
    """The 182 runs datablations fitted R_D* and R_N* on (read from the package copy once)."""
    rows = json.loads(data_file(RUNS_FILE).read_text(encoding="utf-8"))
    return runs_from_rows(rows, f"{_PACKAGE_DATA}/{RUNS_FILE}")


@cache
def draws_document() -> dict[str, Any]:
    """The shipped draws file: how the draws were made, the full fit and every draw's values."""
    return json.loads(data_file(DRAWS_FILE).read_text(encoding="utf-8"))


def builtin_draws(law: Law) -> list[Law]:
    """`law` under every shipped draw, if it is one of the built-in laws unchanged; else []."""
    if law == DATABLATIONS:
        keys = ("r_d_star", "r_n_star")
    elif law == CHINCHILLA:
        keys = ("r_d_star",)  # its repetition constant is datablations' (laws.py)
    else:
        return []
    values = draws_document()["values"]
    n = min(len(values[k]) for k in keys)
    out = []
    for j in range(n):
        r_d = float(values["r_d_star"][j])
        r_n = float(values["r_n_star"][j]) if "r_n_star" in keys else law.r_n
        out.append(replace(law, r_d=r_d, r_n=r_n))
    return out


def draws_level() -> float:
    """The percentile level plans report over the shipped draws."""
    return float(draws_document().get("level", 0.95))
