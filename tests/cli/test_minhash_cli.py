"""`curate dedup` and `curate.dedup`: options reach the stage, output contract, resume, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

import curate
from curate import schema
from tests.conftest import ROOT, env_with_repo, read_output, rejected_dir


def _curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env_with_repo(),
                          capture_output=True, text=True, timeout=300)


def test_dedup_verb_runs_prints_band_choice_and_json(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _curate("dedup", "--input", str(sample_dir), "--output", str(out), "--workers", "1", "--keep-rejected",
                "--exact", "--json")
    assert r.returncode == 0, r.stderr
    assert "14 bands x 8 rows" in r.stderr and "S-curve threshold 0.719" in r.stderr
    stats = json.loads(r.stdout)
    by_stage = {s["stage"]: s for s in stats["stages"]}
    near = by_stage["minhash_dedup"]
    assert near["summary"]["bands"] == 14 and near["rejected"]["near_duplicate"] > 0
    assert by_stage["exact_dedup"]["rejected"]["exact_duplicate"] > 0
    assert stats["docs_out"] == len(read_output(out))
    rejected = pq.read_table(rejected_dir(out, "minhash_dedup"))
    assert set(rejected.column(schema.REJECT_REASON).to_pylist()) == {schema.REASON_NEAR_DUPLICATE}
    # the kept documents stand for every input document
    assert sum(read_output(out).column(schema.DUP_COUNT).to_pylist()) == 2000


def test_dedup_verb_options_reach_the_stage_and_resume_skips_work(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["dedup", "--input", str(sample_dir), "--output", str(out), "--workers", "1", "--threshold", "0.9",
            "--ngram", "3", "--num-perm", "64", "--bands", "8", "--verify", "--annotate-only", "--seed", "3",
            "--json"]
    r = _curate(*args)
    assert r.returncode == 0, r.stderr
    summary = next(s for s in json.loads(r.stdout)["stages"] if s["stage"] == "minhash_dedup")["summary"]
    assert (summary["bands"], summary["rows"]) == (8, 8) and summary["pair_check"] == "exact"
    assert len(read_output(out)) == 2000  # annotate-only removes nothing
    again = _curate(*args[:-1], "--resume")
    assert again.returncode == 0, again.stderr
    assert "done, skipped" in again.stderr


def test_dedup_verb_bad_options_exit_2(sample_dir: Path, tmp_path: Path) -> None:
    r = _curate("dedup", "--input", str(sample_dir), "--output", str(tmp_path / "o"), "--bands", "30",
                "--rows", "8")
    assert r.returncode == 2 and "num_perm=112" in r.stderr and "Traceback" not in r.stderr
    r = _curate("dedup", "--input", str(sample_dir), "--output", str(tmp_path / "o"), "--threshold", "2")
    assert r.returncode == 2 and "--threshold" in r.stderr


def test_python_api_dedup(sample_dir: Path, tmp_path: Path) -> None:
    result = curate.dedup(sample_dir, tmp_path / "out", threshold=0.8, run_options={"workers": 1})
    near = next(s for s in result.stages if s["stage"] == "minhash_dedup")
    assert near["docs_out"] == len(read_output(tmp_path / "out")) < 2000
