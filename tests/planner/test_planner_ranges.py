"""Plans that show how sure they are (issue 29): ranges under the built-in laws' bootstrap draws,
the draws' provenance, and the law.json ``kind``."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from curate.errors import ConfigError
from curate.planner import (
    Bucket,
    buckets_to_dict,
    calibrate,
    lawfile,
    plan,
    read_law,
    runs_from_rows,
)
from curate.planner.builtin import builtin_draws, data_file, draws_document
from curate.planner.laws import CHINCHILLA, DATABLATIONS
from curate.planner.make_builtin_draws import make_draws
from tests.in_process import curate

BUCKETS = [Bucket("high", 1e9, 2.0), Bucket("mid", 5e9, 1.0), Bucket("low", 2e10, 0.5)]


def test_plan_without_law_shows_epoch_and_n_ranges(tmp_path: Path) -> None:
    path = tmp_path / "buckets.json"
    path.write_text(json.dumps(buckets_to_dict(BUCKETS)))
    r = curate("plan", "--buckets", str(path), "--compute", "1e21", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    ranges = doc["ranges"]
    assert ranges["draws"] == 200 and ranges["level"] == 0.95 and "182 runs" in ranges["source"]
    lo, hi = ranges["params"]
    assert 0 < lo < hi
    assert ranges["predicted_loss"][0] < ranges["predicted_loss"][1]
    for b in doc["buckets"]:
        e_lo, e_hi = b["epochs_range"]
        assert e_lo <= e_hi <= doc["max_epochs"] * (1 + 1e-9)
    high = doc["buckets"][0]["epochs_range"]
    assert high[1] / high[0] > 2  # R_D* is poorly determined: the best bucket's epochs vary widely
    table = curate("plan", "--buckets", str(path), "--compute", "1e21")
    assert "epochs range" in table.stdout and "over 200 bootstrap draws" in table.stdout


def test_ranges_follow_the_draws_of_each_built_in_law() -> None:
    datablations = builtin_draws(DATABLATIONS)
    chinchilla = builtin_draws(CHINCHILLA)
    assert len(datablations) == len(chinchilla) == 200
    assert {law.r_n for law in chinchilla} == {None}  # chinchilla borrows R_D* only
    assert [law.r_d for law in chinchilla] == [law.r_d for law in datablations]
    modified = DATABLATIONS.__class__(**{**DATABLATIONS.__dict__, "r_d": 10.0})
    assert builtin_draws(modified) == []  # a changed law is not the one the draws belong to
    p = plan(BUCKETS, 1e20, law="chinchilla")
    assert p.extra["ranges"]["draws"] == 200 and all(b.epochs_range for b in p.buckets)


def test_shipped_draws_are_what_the_script_makes_from_the_package_copy() -> None:
    doc = draws_document()
    assert doc["runs"]["sha256"] == hashlib.sha256(data_file("datablations_runs.json").read_bytes()).hexdigest()
    assert doc["fit"]["summed_huber"] < doc["published"]["summed_huber"]
    again = make_draws(draws=2, seed=doc["seed"])
    for key in ("r_d_star", "r_n_star"):
        assert again["values"][key] == pytest.approx(doc["values"][key][:2], rel=1e-6)
        assert again["fit"][key] == pytest.approx(doc["fit"][key], rel=1e-9)


def test_law_json_kind_is_written_read_and_checked(tmp_path: Path) -> None:
    rows = [{"params": n, "tokens": u * e, "unique_tokens": u, "loss": 2.0 + 30 / n**0.3 + 400 / (u * e) ** 0.3}
            for n in (1e8, 3e8, 1e9) for u in (1e9, 3e9, 1e10) for e in (1, 2, 4)]
    doc = calibrate(runs_from_rows(rows), "repetition", bootstrap=0, profile=False).to_dict()
    assert doc["kind"] == "repetition"
    base_doc = calibrate(runs_from_rows(rows), "base", bootstrap=0, profile=False).to_dict()
    assert base_doc["kind"] == "base"
    old = dict(doc)
    del old["kind"]  # written before the field existed: still read
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert read_law(tmp_path / "old.json").law.r_d == pytest.approx(doc["r_d_star"])
    (tmp_path / "odd.json").write_text(json.dumps({**doc, "kind": "kaplan"}))
    with pytest.raises(ConfigError, match=r"odd\.json: unknown law kind 'kaplan' \(known kinds: base, mixture, repetition\)"):
        read_law(tmp_path / "odd.json")
    buckets = tmp_path / "buckets.json"
    buckets.write_text(json.dumps(buckets_to_dict(BUCKETS)))
    r = curate("plan", "--buckets", str(buckets), "--compute", "1e20", "--law", str(tmp_path / "odd.json"))
    assert r.returncode == 2 and r.stdout == "" and "unknown law kind 'kaplan'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_new_kind_is_one_entry_in_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def read_mixture(doc, name):  # noqa: ANN001, ANN202 - a stand-in reader
        seen.append((doc["kind"], name))
        return DATABLATIONS

    monkeypatch.setitem(lawfile.LAW_KINDS, "mixture", read_mixture)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": "curate-law/1", "kind": "mixture"}))
    assert read_law(path) is DATABLATIONS and seen == [("mixture", str(path))]


def test_plan_ranges_are_skipped_on_request_and_for_custom_laws() -> None:
    assert "ranges" not in plan(BUCKETS, 1e20, ranges=False).extra
    custom = DATABLATIONS.__class__(**{**DATABLATIONS.__dict__, "name": "mine", "r_d": 20.0})
    p = plan(BUCKETS, 1e20, law=custom, max_epochs=math.inf)
    assert "ranges" not in p.extra and all(b.epochs_range is None for b in p.buckets)
