"""No nonsense with exit 0 (issue 29): saturated plans, models far outside the fit range and fewer
tokens than parameters are refused with advice; the frontier marks them; plots read in log scale;
``curate.plan`` takes paths and URIs as the CLI does."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import curate
from curate.errors import InfeasibleError
from curate.planner import Bucket, buckets_to_dict, frontier, plan
from curate.planner.report import _y_scale, format_frontier, plot_frontier
from tests.in_process import curate as curate_cli

# the demo's buckets (2,000 sample documents after curation: 436K unique tokens)
DEMO = [Bucket("high", 178335, 2.0), Bucket("medium", 187715, 1.0), Bucket("low", 69874, 0.5)]
BIG = [Bucket("high", 1e9, 2.0), Bucket("mid", 5e9, 1.0), Bucket("low", 2e10, 0.5)]


def _write(tmp_path: Path, buckets: list[Bucket], name: str = "buckets.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(buckets_to_dict(buckets)))
    return path


def test_saturated_plan_is_refused_with_the_useful_compute_and_the_data_needed(tmp_path: Path) -> None:
    """The README's `curate plan --buckets out/demo --compute 1e21`: it gave a 2.98M-parameter model and
    128,187,607 epochs per bucket with exit 0."""
    path = _write(tmp_path, DEMO)
    r = curate_cli("plan", "--buckets", str(path), "--compute", "1e21", "--json")
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("error: plan: not sensible at 1e+21 FLOPs: compute is saturated")
    assert "FLOPs is what these buckets can use" in line and "unique tokens (these buckets hold 436K)" in line
    assert "--allow-extrapolation" in line
    r = curate_cli("plan", "--buckets", str(path), "--compute", "1e21", "--max-epochs", "4", "--json")
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1


def test_allow_extrapolation_plans_it_and_says_why_it_is_not_sensible(tmp_path: Path) -> None:
    path = _write(tmp_path, DEMO)
    r = curate_cli("plan", "--buckets", str(path), "--compute", "1e21", "--allow-extrapolation", "--no-ranges", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["saturation"]["saturated"] and "compute is saturated" in doc["refusal"]
    assert any(w.startswith("not a sensible plan") for w in doc["warnings"])


def test_model_far_outside_the_fit_range_is_refused() -> None:
    with pytest.raises(InfeasibleError, match=r"N = 1T\) is 115x outside the 7.1M..8.67B parameters"):
        plan(BIG, 6 * 1e12 * 1.5e12, params=1e12, max_epochs=math.inf, allow_extrapolation=False)
    inside = plan([Bucket("web", 1e13, 1.0)], 6 * 8e10 * 1.6e12, params=8e10, ranges=False)  # 9.2x: warned, not refused
    assert inside.extra["refusal"] is None
    small = plan([Bucket("web", 1e12, 1.0)], 6 * 5e5 * 1e7, params=5e5, ranges=False)
    assert "14.2x outside" in small.extra["refusal"] and "fix --params inside that range" in small.extra["refusal"]


def test_fewer_tokens_than_parameters_is_refused_with_the_compute_it_needs() -> None:
    p = plan(BIG, 6 * 5e9 * 1e9, params=5e9, ranges=False)  # 1B tokens for 5B parameters
    assert "0.2 tokens per parameter" in p.extra["refusal"]
    assert f"needs at least {6 * 5e9**2:.3g} FLOPs for one token per parameter" in p.extra["refusal"]
    with pytest.raises(InfeasibleError, match="0.2 tokens per parameter"):
        curate.plan(BIG, 6 * 5e9 * 1e9, params=5e9, ranges=False)


def test_frontier_marks_refused_budgets_instead_of_refusing(tmp_path: Path) -> None:
    plans = frontier(DEMO, [1e11, 1e21])
    assert plans[0].extra["refusal"] is not None or plans[1].extra["refusal"] is not None
    assert plans[1].extra["refusal"] and "saturated" in plans[1].extra["refusal"]
    text = format_frontier(plans)
    assert "sensible" in text.splitlines()[0] and "not sensible (curate plan refuses" in text
    png = plot_frontier(plans, tmp_path / "f.png")
    assert Path(png).read_bytes().startswith(b"\x89PNG")
    path = _write(tmp_path, DEMO)
    r = curate_cli("plan", "--buckets", str(path), "--frontier", "1e11:1e21:3", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [p["refusal"] is not None for p in doc["frontier"]][-1]


def test_plots_use_log_scales_across_decades_and_no_offset() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2)
    _y_scale(a, [1.0, 1.28e8])  # epochs spanning decades (the 128,187,607)
    _y_scale(b, [14.231483690, 14.231483695])  # a loss flat to 1e-9 (the '1e-11+1.423148369e1' axis)
    assert a.get_yscale() == "log"
    assert b.get_yscale() == "linear" and b.yaxis.get_major_formatter().get_useOffset() is False
    plt.close(fig)


def test_curate_plan_takes_paths_and_uris(tmp_path: Path) -> None:
    """`curate.plan("…/buckets.json", 3e14)` crashed ('str' object has no attribute 'name')."""
    import fsspec

    path = _write(tmp_path, BIG)
    by_path = curate.plan(str(path), 1e20, ranges=False)
    assert curate.plan(path, 1e20, ranges=False).params == by_path.params
    assert plan(json.loads(path.read_text()), 1e20, ranges=False).params == by_path.params
    uri = f"memory://planner-{tmp_path.name}/buckets.json"
    with fsspec.open(uri, "w") as fh:
        fh.write(path.read_text())
    assert curate.plan(uri, 1e20, ranges=False).params == by_path.params
    with pytest.raises(InfeasibleError, match="compute is saturated"):
        curate.plan(str(_write(tmp_path, DEMO, "demo.json")), 3e14, ranges=False)
    allowed = curate.plan(str(tmp_path / "demo.json"), 3e14, ranges=False, allow_extrapolation=True)
    assert allowed.extra["refusal"]
