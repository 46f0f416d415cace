"""Ctrl-C and SIGTERM stop a run at once (issue 30): "stopping..." is the first thing said, the
workers are told to stop mid-unit (their partial files removed) instead of being waited for, and
the exit is 130 (143) with the hint to resume; a resumed run then finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, env_with_repo, shard_ids

pytestmark = pytest.mark.faults

# Each task writes its first batch to its shard (its writers open a temporary file), then sleeps
# an hour per batch unless SLOW_SECONDS says otherwise: only a worker told to stop ends its unit.
STUCK = """
name: stuck
settings:
  keep_rejected: true
  batch_rows: 64
stages:
  - stage: normalize
  - stage: tests.stages_for_tests:Slow
    params: {seconds: 3600, after_rows: 64, seconds_env: SLOW_SECONDS}
  - stage: length_filter
    params: {min_chars: 50}
"""


def _curate(pipe: Path, sample_dir: Path, out: Path, workers: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(sample_dir), "--output", str(out),
            "--workers", str(workers), *extra]


def _start_stuck(tmp_path: Path, sample_dir: Path, workers: int) -> tuple[subprocess.Popen, Path, Path, list[str]]:
    """A stuck run whose units have their partial files open; its log lines so far."""
    pipe = tmp_path / "stuck.yaml"
    pipe.write_text(STUCK)
    out = tmp_path / "out"
    proc = subprocess.Popen(_curate(pipe, sample_dir, out, workers), cwd=ROOT, env=env_with_repo(),
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # the log until the main pass starts (pass 1 reads the ids)
        lines.append(line)
        if line.startswith("pass 2/"):
            break
    deadline = time.monotonic() + 120
    while proc.poll() is None and not list(out.rglob(".*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(out.rglob(".*.tmp")), "no unit had its files open: " + "".join(lines)
    return proc, pipe, out, lines


def _stop(proc: subprocess.Popen, sig: int) -> int:
    try:
        if sig == signal.SIGINT:  # Ctrl-C reaches the whole foreground group
            os.killpg(proc.pid, sig)
        else:  # a scheduler's SIGTERM: the driver only
            proc.send_signal(sig)
        # the units sleep an hour: the run ends only because its workers were told to stop
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _pool(pid: int) -> list[psutil.Process]:
    return [c for c in psutil.Process(pid).children() if "spawn_main" in " ".join(c.cmdline())]


@pytest.mark.parametrize(("sig", "code", "workers"), [(signal.SIGINT, 130, 2), (signal.SIGTERM, 143, 2),
                                                      (signal.SIGINT, 130, 1)])
def test_stop_tells_workers_to_stop_and_removes_partial_files(sample_dir: Path, tmp_path: Path, sig: int,
                                                              code: int, workers: int) -> None:
    proc, _, out, before = _start_stuck(tmp_path, sample_dir, workers)
    pool = _pool(proc.pid)
    assert len(pool) == (workers if workers > 1 else 0)
    assert _stop(proc, sig) == code
    assert proc.stderr is not None
    after = proc.stderr.read().splitlines()
    assert after[0].startswith("stopping..."), after  # said at once, before anything else
    assert "--resume" in after[-1] and "Traceback" not in "".join(before) + "\n".join(after)
    assert not [p for p in pool if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not list(out.rglob(".*.tmp"))  # the partial shards were removed
    assert not (out / "_SUCCESS").exists()


def test_a_stopped_run_resumes_to_the_output_of_an_uninterrupted_run(sample_dir: Path, tmp_path: Path) -> None:
    proc, pipe, out, _ = _start_stuck(tmp_path, sample_dir, 2)
    assert _stop(proc, signal.SIGINT) == 130
    # curate stats on the unfinished run: finished tasks per pass, and what --resume will do
    tasks = len(list(sample_dir.glob("*.parquet")))
    shown = subprocess.run([sys.executable, "-m", "curate.cli", "stats", str(out)], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"unfinished run of pipeline stuck: {tasks} task(s), 2 pass(es)"
    assert lines[1].startswith("  pass 1/2: read ids -> _ids") and lines[1].endswith(f"{tasks}/{tasks} tasks done")
    assert lines[2].split() == ["combine", "_ids", "done"]
    assert lines[3].startswith("  pass 2/2: read -> normalize -> slow -> length_filter")
    assert lines[3].endswith(f"0/{tasks} tasks done")
    assert lines[4] == (f"--resume (the same command with --resume added) will: skip the {tasks} finished unit "
                        f"task(s); run the {tasks} unfinished unit task(s) of pass 2; write _curate/stats.json and _SUCCESS")
    progress = json.loads(subprocess.run([sys.executable, "-m", "curate.cli", "stats", str(out), "--json"], cwd=ROOT,
                                         capture_output=True, text=True, timeout=120).stdout)
    assert progress["finished"] is False and progress["tasks"] == tasks
    assert [[u["done"] for u in p["units"]] for p in progress["passes"]] == [[tasks], [0]]
    quick = {**env_with_repo(), "SLOW_SECONDS": "0"}
    resumed = subprocess.run(_curate(pipe, sample_dir, out, 2, "--resume", "--quiet"), cwd=ROOT, env=quick,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    clean = tmp_path / "clean"
    fresh = subprocess.run(_curate(pipe, sample_dir, clean, 2, "--quiet"), cwd=ROOT, env=quick, capture_output=True,
                           text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    assert shard_ids(out) == shard_ids(clean)
