"""Crash safety: real `curate run` processes killed with SIGKILL at seeded points, then resumed.

Each fault is injected with CURATE_FAULT=point:n (see curate/faults.py): the n-th time
the run reaches that point, its whole process group is SIGKILLed. The resumed output must equal
a clean run's: same shards, same ids in the same order, same columns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.store import layout
from tests.conftest import (
    ROOT,
    env_with_repo,
    meta_file,
    read_output,
    shard_ids,
    sink_dirs,
    work_dir,
)

# A branching pipeline with every stage of the default one that changes rows or runs a combine,
# plus prune: a route by domain, a global stage on one branch (exact dedup of code), map stages on
# the other, a union, global stages after it, and three sinks. MODELS is replaced by the
# directory of models trained for this module.
PIPE = """
name: faults
settings:
  keep_rejected: true
  batch_rows: 128
stages:
  - stage: normalize
  - stage: token_count
  - stage: classify
    name: domain
    params: {model: MODELS/domain.bin, column: domain}
  - stage: route
    params: {routes: {code: "domain = 'code'"}, default: prose}
  - stage: exact_dedup
    input: route.code
  - stage: heuristics
    input: route.prose
  - stage: filter
  - stage: classify
    name: quality
    input: [exact_dedup, filter]
    params: {model: MODELS/quality.bin, column: quality, label: hq}
  - stage: minhash_dedup
  - stage: prune
    params: {fraction: 0.9}
  - stage: quality_buckets
    params: {quantiles: [0.7, 0.3], utility: {high: 2.0, medium: 1.0, low: 0.5}}
  - stage: sample
    params: {compute: 1.0e12, max_epochs: 4.0}
outputs:
  code: exact_dedup
  curated: quality_buckets
  mixture: sample
"""

# (point, n): crash the n-th time the run reaches the point. Combines in pipeline order:
# 1 exact_dedup, 2 minhash_dedup, 3 prune, 4 quality_buckets, 5 sample.
POINTS = [("task_start", 3), ("shard_write", 2), ("task_done", 4), ("shard_write", 9),
          ("combine", 1), ("combine", 2), ("combine_map", 2), ("combine", 3), ("combine", 4), ("combine", 5),
          ("reshape", 2)]


def _curate(args: list[str], fault: str | None = None, fault_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = env_with_repo()
    env.pop("CURATE_FAULT", None)
    if fault:
        env["CURATE_FAULT"] = fault
        env["CURATE_FAULT_DIR"] = str(fault_dir)
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, start_new_session=True)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("faults")
    src = base / "in"
    import shutil

    shutil.copytree(ROOT / "sample_data", src, ignore=shutil.ignore_patterns("*.md"))
    models = base / "models"
    trained = subprocess.run([sys.executable, "-m", "curate.train_models", "--out", str(models)], cwd=ROOT,
                             env=env_with_repo(), capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr
    pipe = base / "p.yaml"
    pipe.write_text(PIPE.replace("MODELS", str(models)))
    out = base / "clean"
    r = _curate(["run", str(pipe), "--input", str(src), "--output", str(out), "--workers", "2", "--quiet"])
    assert r.returncode == 0, r.stderr
    return src, pipe, out


@pytest.mark.parametrize("point,nth", POINTS)
def test_kill_and_resume_gives_the_clean_output(clean_run, tmp_path: Path, point: str, nth: int) -> None:
    src, pipe, clean = clean_run
    out = tmp_path / "out"
    args = ["run", str(pipe), "--input", str(src), "--output", str(out), "--workers", "2", "--quiet"]
    crashed = _curate(args, fault=f"{point}:{nth}", fault_dir=tmp_path)
    assert crashed.returncode == -9, f"the fault {point}:{nth} was not reached: {crashed.stderr}"
    assert not (out / "_SUCCESS").exists()
    for part in out.glob("**/*.parquet"):  # every visible file is complete
        pq.read_metadata(part)
    refused = _curate(args)  # without --resume an interrupted output is not clobbered
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = _curate([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    sinks = sink_dirs(clean)
    assert list(sinks) == ["code", "curated", "mixture"]
    for name in sinks:
        assert shard_ids(out, name) == shard_ids(clean, name)
        assert read_output(out, name).equals(read_output(clean, name))
    assert sorted(p.relative_to(out).as_posix() for p in out.glob(f"{layout.REJECTED}/**/*.parquet")) == sorted(
        p.relative_to(clean).as_posix() for p in clean.glob(f"{layout.REJECTED}/**/*.parquet"))
    for name in ("buckets.json", "plan.json"):
        assert meta_file(out, name).read_text() == meta_file(clean, name).read_text()
    assert (out / "_SUCCESS").exists()


def test_resume_of_a_finished_run_changes_nothing(clean_run, tmp_path: Path) -> None:
    src, pipe, clean = clean_run
    before = {p: p.stat().st_mtime_ns for p in clean.glob("*/part-*.parquet")}
    r = _curate(["run", str(pipe), "--input", str(src), "--output", str(clean), "--workers", "2", "--resume"])
    assert r.returncode == 0, r.stderr
    assert before and before == {p: p.stat().st_mtime_ns for p in clean.glob("*/part-*.parquet")}
    assert os.path.exists(clean / "_SUCCESS")


@pytest.mark.parametrize("fault", ["combine:1", "task_done:6"])
def test_a_global_stage_first_reads_its_input_again_after_a_crash(clean_run, tmp_path: Path, fault: str) -> None:
    """`curate dedup` on Parquet keeps no copy of its input: its apply pass reads the input files
    again, also after a crash in the combine or mid-way through the apply pass (4 shards: the 6th
    task done is the apply pass's 2nd)."""
    src = clean_run[0]
    clean, out = tmp_path / "clean", tmp_path / "out"
    args = ["dedup", "--input", str(src), "--workers", "2", "--quiet", "--keep-rejected"]
    assert _curate([*args, "--output", str(clean)]).returncode == 0
    crashed = _curate([*args, "--output", str(out)], fault=fault, fault_dir=tmp_path)
    assert crashed.returncode == -9, f"the fault {fault} was not reached: {crashed.stderr}"
    resumed = _curate([*args, "--output", str(out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert not (work_dir(out) / "streams" / "read").exists()
    assert shard_ids(out) == shard_ids(clean) and read_output(out).equals(read_output(clean))
    rejected = sorted(p.relative_to(out) for p in out.glob(f"{layout.REJECTED}/**/*.parquet"))
    assert rejected and rejected == sorted(p.relative_to(clean) for p in clean.glob(f"{layout.REJECTED}/**/*.parquet"))
