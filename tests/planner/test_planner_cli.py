"""`curate plan` end to end (the console entry point, in process: tests/in_process.py), and the plan report (tables, PNG plots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.planner import Bucket, buckets_to_dict, frontier, plan
from curate.planner.report import (
    entry_budgets,
    format_frontier,
    format_plan,
    plot_frontier,
    plot_plan,
)
from tests.in_process import curate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BUCKETS = [Bucket("high", 1e9, 2.0, docs=1000, mean_score=0.9), Bucket("mid", 5e9, 1.0, docs=5000, mean_score=0.5),
           Bucket("low", 2e10, 0.5, docs=20000, mean_score=0.2)]


@pytest.fixture()
def buckets_json(tmp_path: Path) -> Path:
    path = tmp_path / "buckets.json"
    path.write_text(json.dumps(buckets_to_dict(BUCKETS)))
    return path


def test_plan_table_and_plot(buckets_json: Path, tmp_path: Path) -> None:
    png = tmp_path / "plots" / "plan.png"
    r = curate("plan", "--buckets", str(buckets_json), "--compute", "1e21", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    for name in ("high", "mid", "low", "epochs", "predicted loss"):
        assert name in r.stdout
    assert "warning:" in r.stderr and "warning:" not in r.stdout  # 16 epochs of 'high'
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in png.parent.iterdir()] == ["plan.png"]  # no temporary file left


def test_plan_json_is_pure_and_matches_the_api(buckets_json: Path) -> None:
    r = curate("plan", "--buckets", str(buckets_json), "--compute", "1e20", "--max-epochs", "8", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout holds nothing else
    expected = plan(BUCKETS, 1e20, max_epochs=8.0).to_dict()
    assert doc["params"] == pytest.approx(expected["params"], rel=1e-12)
    assert [b["epochs"] for b in doc["buckets"]] == pytest.approx([b["epochs"] for b in expected["buckets"]], rel=1e-9)
    assert set(doc) >= {"law", "compute", "params", "tokens", "predicted_loss", "lambda", "buckets", "warnings"}
    assert doc["warnings"] and all(w in r.stderr for w in doc["warnings"])


def test_plan_fixed_params_and_chinchilla(buckets_json: Path) -> None:
    r = curate("plan", "--buckets", str(buckets_json), "--compute", "1e20", "--params", "1e9", "--law", "chinchilla",
               "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["law"] == "chinchilla" and doc["params"] == 1e9 and doc["params_fixed"] is True
    assert doc["tokens"] == pytest.approx(1e20 / 6e9, rel=1e-12)


def test_infeasible_budget_exits_2(buckets_json: Path) -> None:
    r = curate("plan", "--buckets", str(buckets_json), "--compute", "1e22", "--params", "1e8", "--max-epochs", "4",
               "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "error:" in r.stderr and "supply at most" in r.stderr


def test_bad_input_exits_2_naming_the_file(tmp_path: Path, buckets_json: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"buckets": [{"name": "a", "unique_tokens": "many"}]}')
    r = curate("plan", "--buckets", str(bad), "--compute", "1e20")
    assert r.returncode == 2 and str(bad) in r.stderr and "unique_tokens" in r.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    r = curate("plan", "--buckets", str(broken), "--compute", "1e20")
    assert r.returncode == 2 and str(broken) in r.stderr
    r = curate("plan", "--buckets", str(buckets_json))
    assert r.returncode == 2 and "--compute" in r.stderr
    r = curate("plan", "--buckets", str(buckets_json), "--frontier", "1e20")
    assert r.returncode == 2 and "LO:HI" in r.stderr


def test_frontier_table_json_and_plot(buckets_json: Path, tmp_path: Path) -> None:
    png = tmp_path / "frontier.png"
    r = curate("plan", "--buckets", str(buckets_json), "--frontier", "1e18:1e22:5", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert "bucket enters at" in r.stdout and "ep:high" in r.stdout
    assert len([ln for ln in r.stdout.splitlines() if ln.startswith("1e+")]) == 5
    assert png.read_bytes().startswith(PNG_MAGIC)
    r = curate("plan", "--buckets", str(buckets_json), "--frontier", "1e18:1e22:3", "--json")
    doc = json.loads(r.stdout)
    assert [p["compute"] for p in doc["frontier"]] == pytest.approx([1e18, 1e20, 1e22])


def test_help_shows_defaults() -> None:
    r = curate("plan", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())  # click wraps help to the widest option's column
    assert "default: datablations" in text and "no cap" in text


def test_report_table_and_plots(tmp_path: Path) -> None:
    p = plan(BUCKETS, 1e21)
    text = format_plan(p)
    assert f"{p.predicted_loss:.4f}" in text and "16.38" in text
    plans = frontier(BUCKETS, [1e18, 1e20, 1e22])
    assert entry_budgets(plans) == {"high": 1e18, "mid": 1e20, "low": 1e22}
    assert "low: 1e+22" in format_frontier(plans)
    assert plot_plan(p, tmp_path / "a.png").read_bytes().startswith(PNG_MAGIC)
    assert plot_frontier(plans, tmp_path / "b.png").read_bytes().startswith(PNG_MAGIC)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_from_plan_shows_an_existing_plan(buckets_json: Path, tmp_path: Path) -> None:
    r = curate("plan", "--buckets", str(buckets_json), "--compute", "1e21", "--json")
    saved = tmp_path / "plan.json"
    saved.write_text(r.stdout)
    shown = curate("plan", "--from-plan", str(saved), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads(r.stdout)
    table = curate("plan", "--buckets", str(buckets_json), "--from-plan", str(saved))  # as `make demo` calls it
    assert table.returncode == 0 and "16.38" in table.stdout
    hand = tmp_path / "hand.json"
    hand.write_text('{"buckets": [{"name": "web", "epochs": 2.5}]}')
    r = curate("plan", "--from-plan", str(hand), "--plot", str(tmp_path / "hand.png"))
    assert r.returncode == 0 and "2.50" in r.stdout
    assert (tmp_path / "hand.png").read_bytes().startswith(PNG_MAGIC)
    hand.write_text('{"buckets": [{"name": "web"}]}')
    r = curate("plan", "--from-plan", str(hand))
    assert r.returncode == 2 and "epochs" in r.stderr
