"""The mixture verbs end to end (the console entry point, in process: tests/in_process.py): draw mixtures, calibrate --fit mixture,
predict (mixture and repetition laws), and the exit codes of bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.in_process import curate

from .test_mixture_fit import planted_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def runs_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in planted_rows(40, 0)))
    return path


def test_calibrate_mixture_writes_law_report_and_plot(runs_jsonl: Path, tmp_path: Path) -> None:
    law, png = tmp_path / "law.json", tmp_path / "fit.png"
    r = curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "web_val", "--holdout", "8",
               "--seed", "3", "--bootstrap", "10", "--output", str(law), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert "held out: 8 runs, Spearman" in r.stdout and "web_val: c" in r.stdout
    doc = json.loads(law.read_text())
    assert doc["kind"] == "mixture" and doc["model"] == "exponential" and doc["bootstrap"]["draws"] == 10
    assert len(doc["fit"]["holdout"]["names"]) == 8 and doc["fit"]["holdout"]["spearman"] > 0.9
    assert png.read_bytes().startswith(PNG_MAGIC)
    # --json: the document alone on stdout
    r = curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "web_val", "--model", "linear",
               "--output", str(law), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == "linear"


def test_calibrate_mixture_bad_target_exits_2_naming_the_keys(runs_jsonl: Path, tmp_path: Path) -> None:
    r = curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "arxiv", "-o", str(tmp_path / "l.json"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "(its keys: code_val, web_val)" in r.stderr
    r = curate("calibrate", str(runs_jsonl), "--fit", "mixture", "-o", str(tmp_path / "l.json"))
    assert r.returncode == 2 and "give --target" in r.stderr
    r = curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "web_val", "--reference", "high",
               "-o", str(tmp_path / "l.json"))
    assert r.returncode == 2 and "--reference: not used by --fit mixture" in r.stderr
    r = curate("calibrate", str(runs_jsonl), "--fit", "repetition", "--target", "web_val", "-o", str(tmp_path / "l.json"))
    assert r.returncode == 2 and "options of --fit mixture" in r.stderr


def test_predict_json_lines_in_input_order_with_warnings(runs_jsonl: Path, tmp_path: Path) -> None:
    law = tmp_path / "law.json"
    assert curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "web_val", "--bootstrap", "0",
                  "-o", str(law)).returncode == 0
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("name,mixture.web,mixture.code,mixture.books,mixture.math,mixture.poetry\n"
                      "z-last,0.25,0.25,0.25,0.25,\nalone,1.0,,,,\nnew-domain,0.5,0.2,0.1,0.1,0.1\n")
    r = curate("predict", str(law), str(unseen), "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["name"] for x in lines] == ["z-last", "alone", "new-domain"]
    assert all(set(x) == {"name", "predicted_loss"} for x in lines)
    assert "domain 'web': share above the largest" in r.stderr and "in alone" in r.stderr
    assert "domain 'poetry' is not one law" in r.stderr


def test_predict_repetition_law(tmp_path: Path) -> None:
    """A built-in repetition law predicts what the planner's law gives (datablations, computed here)."""
    runs = tmp_path / "rep.jsonl"
    runs.write_text(json.dumps({"name": "r", "params": 1e8, "tokens": 2e9, "unique_tokens": 1e9, "loss": 3.5}) + "\n")
    r = curate("predict", "datablations", str(runs), "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    # datablations (Muennighoff et al. 2023, eqs. 5-6; README "Parametric Fit" constants), by hand
    a, b, e, alpha, rd, rn = 6.255414, 7.3049974, 0.6254804, 0.3526596, 15.387756, 5.309743
    d_eff = 1e9 + 1e9 * rd * (1 - np.exp(-1.0 / rd))  # 2 epochs of 1e9 unique tokens
    g = (np.exp(a) / np.exp(b)) ** (1 / (2 * alpha))  # alpha = beta
    un = min(1e8, 1e9 * g * g)  # D_to_N(U) = (U G)^(beta/alpha) G
    n_eff = un + un * rn * (1 - np.exp(-(1e8 / un - 1) / rn))
    expected = np.exp(e) + np.exp(a) / n_eff**alpha + np.exp(b) / d_eff**alpha
    assert row["predicted_loss"] == pytest.approx(expected, rel=1e-9) and row["loss"] == 3.5


def test_mixtures_verb_writes_csv_and_jsonl(tmp_path: Path) -> None:
    buckets = tmp_path / "buckets.json"
    buckets.write_text(json.dumps({"buckets": [
        {"name": "web-high", "domain": "web", "unique_tokens": 6e9}, {"name": "web-low", "domain": "web", "unique_tokens": 2e9},
        {"name": "code-high", "domain": "code", "unique_tokens": 1e9}, {"name": "math-high", "domain": "math", "unique_tokens": 5e8}]}))
    out = tmp_path / "mixes.csv"
    r = curate("mixtures", "--buckets", str(buckets), "--n", "64", "--seed", "5", "--minimum", "0.001", "-o", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 64 and set(rows[0]) == {"name", "mixture.code", "mixture.math", "mixture.web"}
    assert all(abs(sum(float(v) for k, v in row.items() if k != "name") - 1) < 1e-9 for row in rows)
    r2 = curate("mixtures", "--buckets", str(buckets), "--n", "64", "--seed", "5", "--minimum", "0.001")
    jsonl = [json.loads(x) for x in r2.stdout.splitlines()]
    assert [x["name"] for x in jsonl] == [row["name"] for row in rows]
    assert jsonl[0]["mixture"]["web"] == pytest.approx(float(rows[0]["mixture.web"]))
    # the drawn file is what predict reads
    bad = tmp_path / "nodomain.json"
    bad.write_text(json.dumps({"buckets": [{"name": "high", "unique_tokens": 10}]}))
    r3 = curate("mixtures", "--buckets", str(bad))
    assert r3.returncode == 2 and "has no 'domain'" in r3.stderr and r3.stderr.count("\n") == 1


def _domain_buckets(path: Path) -> Path:
    """buckets.json by domain and quality, as quality_buckets with by: domain writes it."""
    unique = {"web": 3e10, "code": 2e9, "books": 4e9, "math": 5e8}
    path.write_text(json.dumps({"buckets": [
        {"name": f"{d}/{q}", "domain": d, "quality": q, "unique_tokens": u * f, "utility": 1.0}
        for d, u in unique.items() for q, f in (("high", 0.2), ("medium", 0.3), ("low", 0.5))]}))
    return path


def test_plan_with_a_mixture_law(runs_jsonl: Path, tmp_path: Path) -> None:
    """curate plan --law mixture.json: shares per domain, epochs per (domain, quality) bucket, phases;
    the JSON is a plan.json the sampler reads back; --from-plan shows it; bad requests exit 2."""
    law, png = tmp_path / "law.json", tmp_path / "plan.png"
    assert curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "web_val", "--bootstrap", "8",
                  "-o", str(law)).returncode == 0
    buckets = _domain_buckets(tmp_path / "buckets.json")
    args = ["plan", "--buckets", str(buckets), "--law", str(law), "--compute", "6e19", "--tokens", "1e10",
            "--phases", "[{until: 0.85}, {until: 1.0, upsample: {high: 3}}]"]
    r = curate(*args, "--json", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["kind"] == "mixture" and doc["tokens"] == pytest.approx(1e10) and doc["params"] == pytest.approx(1e9)
    assert sum(v["share"] for v in doc["domains"].values()) == pytest.approx(1.0)
    assert {b["domain"] for b in doc["buckets"]} == {"web", "code", "books", "math"}
    assert all(b["tokens"] <= doc["max_epochs"] * b["unique_tokens"] * (1 + 1e-9) for b in doc["buckets"])
    assert [p["until"] for p in doc["phases"]] == [0.85, 1.0]
    assert doc["ranges"]["draws"] == 8 and all("share_range" in v for v in doc["domains"].values())
    assert png.read_bytes().startswith(PNG_MAGIC)
    text = curate(*args)
    assert text.returncode == 0 and "tokens lost to repetition" in text.stdout and "effective share" in text.stdout
    # the last table: each phase's share of every quality, upsampled 'high' larger in the last phase
    quality_rows = [line for line in text.stdout.splitlines() if line.startswith(("1: 0-0.85", "2: 0.85-1"))][-2:]
    high = [p["qualities"]["high"]["share"] for p in doc["phases"]]
    assert high[1] > high[0] and all(f"{h:.1%}" in row for h, row in zip(high, quality_rows))
    saved = tmp_path / "plan.json"
    saved.write_text(r.stdout)
    shown = curate("plan", "--from-plan", str(saved))
    assert shown.returncode == 0 and "domain" in shown.stdout and "phase" in shown.stdout
    # a linear law: RegMix's seeded top-k search
    lin = tmp_path / "linear.json"
    assert curate("calibrate", str(runs_jsonl), "--fit", "mixture", "--target", "web_val", "--model", "linear",
                  "--bootstrap", "0", "-o", str(lin)).returncode == 0
    r = curate("plan", "--buckets", str(buckets), "--law", str(lin), "--compute", "6e19", "--tokens", "1e10", "--json",
               "--seed", "4")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["search"] == "topk"
    # exit 2, one line: buckets without domains, a frontier, unsatisfiable phases
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"buckets": [{"name": "high", "unique_tokens": 1e9, "utility": 1.0}]}))
    for bad in (["plan", "--buckets", str(flat), "--compute", "6e19", "--law", str(law)],
                ["plan", "--buckets", str(buckets), "--frontier", "1e18:1e20", "--law", str(law)],
                [*args[:-2], "--phases", "[{until: 0.5}]"]):
        r = curate(*bad)
        assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, (bad, r.stderr)


def test_plan_phases_for_quality_buckets(tmp_path: Path) -> None:
    buckets = tmp_path / "buckets.json"
    buckets.write_text(json.dumps({"buckets": [{"name": "high", "unique_tokens": 2e9}, {"name": "low", "unique_tokens": 2e10}]}))
    r = curate("plan", "--buckets", str(buckets), "--compute", "6e19", "--tokens", "1e10", "--no-ranges", "--json",
               "--phases", "[{until: 0.9}, {until: 1.0, upsample: {high: 4}}]")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    first, last = doc["phases"]
    assert first["tokens"] == pytest.approx(0.9 * doc["tokens"]) and last["start"] == 0.9
    high = [p["buckets"]["high"] / p["tokens"] for p in doc["phases"]]
    assert high[1] > high[0]
    for b in doc["buckets"]:
        assert first["buckets"][b["name"]] + last["buckets"][b["name"]] == pytest.approx(b["tokens"])
