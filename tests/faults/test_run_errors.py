"""Errors, not crashes: what the environment refuses is exit 2 naming the path; SIGINT is 130
with a hint; a lost worker names its task and says --resume continues; --max-errors names the
first errors and writes _curate/errors.jsonl."""

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

from tests.conftest import (
    ROOT,
    env_with_repo,
    read_errors,
    shard_ids,
    tmpfs,
    work_dir,
    write_parquet,
)
from tests.stages_for_tests import KILLABLE_PIPELINE

FOUNDATION = str(ROOT / "pipelines" / "foundation.yaml")


def curate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env_with_repo(),
                          capture_output=True, text=True, timeout=timeout)


def _one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    return lines[0]


def test_output_that_is_a_file_is_exit_2_naming_it(sample_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("not a directory")
    for out in (target, target / "below"):
        r = curate("run", FOUNDATION, "--input", str(sample_dir), "--output", str(out))
        assert r.returncode == 2, r.stderr
        assert str(target) in _one_error_line(r)
    assert target.read_text() == "not a directory"


@pytest.fixture()
def tiny_disk(tmp_path: Path):
    with tmpfs(tmp_path / "tiny", "256k") as mnt:
        yield mnt


def test_disk_full_is_exit_2_and_resume_recovers(sample_dir: Path, tmp_path: Path, tiny_disk: Path) -> None:
    out = tiny_disk / "out"
    r = curate("run", FOUNDATION, "--input", str(sample_dir), "--output", str(out), "--workers", "1")
    assert r.returncode == 2, r.stderr
    line = _one_error_line(r)
    assert "No space left" in line and "--resume continues" in line
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = curate("run", FOUNDATION, "--input", str(sample_dir), "--output", str(out), "--workers", "1", "--resume")
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean"
    assert curate("run", FOUNDATION, "--input", str(sample_dir), "--output", str(clean), "--quiet").returncode == 0
    assert shard_ids(out) == shard_ids(clean)


def _start_killable(sample_dir: Path, tmp_path: Path, workers: int,
                    seconds_per_batch: float = 0.05) -> tuple[subprocess.Popen, Path]:
    """The killable pipeline in flight (its first task done); a slower stage keeps it in flight
    longer on a loaded machine."""
    pipe = tmp_path / "killable.yaml"
    pipe.write_text(KILLABLE_PIPELINE.replace("seconds: 0.05", f"seconds: {seconds_per_batch}"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(sample_dir),
                             "--output", str(out), "--workers", str(workers), "--quiet"], cwd=ROOT,
                            env=env_with_repo(), stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while not list((work_dir(out)).glob("units/read/done/*.json")) and time.time() < deadline:
        time.sleep(0.05)
    return proc, out


def test_sigint_is_130_with_a_hint_to_resume(sample_dir: Path, tmp_path: Path) -> None:
    # 1 s per batch: the run cannot finish between its first task and the signal, however loaded
    # the machine (with 0.05 s it sometimes did, and exited 0)
    proc, out = _start_killable(sample_dir, tmp_path, workers=2, seconds_per_batch=1.0)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    assert proc.wait(timeout=120) == 130
    err = proc.stderr.read()
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    assert not (out / "_SUCCESS").exists()


def test_a_killed_worker_names_its_task_and_resume_continues(sample_dir: Path, tmp_path: Path) -> None:
    proc, out = _start_killable(sample_dir, tmp_path, workers=2)
    workers = psutil.Process(proc.pid).children()
    workers = [w for w in workers if "spawn_main" in " ".join(w.cmdline())]
    assert workers, "no worker processes found"
    workers[0].kill()
    assert proc.wait(timeout=120) == 1
    err = proc.stderr.read()
    assert "a worker process died" in err and "while running task" in err and "--resume to continue" in err
    pipe = tmp_path / "killable.yaml"
    again = curate("run", str(pipe), "--input", str(sample_dir), "--output", str(out), "--workers", "2", "--resume")
    assert again.returncode == 0, again.stderr


def test_max_errors_names_the_first_errors_and_writes_errors_jsonl(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    lines = [json.dumps({"id": f"d{i}", "text": f"document {i} has words"}) for i in range(20)]
    lines[3] = lines[7] = lines[11] = "{not json"
    (src / "a.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    r = curate("run", FOUNDATION, "--input", str(src), "--output", str(out), "--on-error", "skip", "--max-errors", "2")
    assert r.returncode == 2
    line = _one_error_line(r)
    assert "more than --max-errors 2" in line and "a.jsonl row 3" in line
    errors = read_errors(out)
    assert [e["row"] for e in errors] == [3, 7, 11]


def test_duplicate_id_under_skip_names_the_first_occurrence(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["x", "y"], "text": ["first copy here", "other text"]})
    write_parquet(tmp_path / "in" / "b.parquet", {"id": ["z", "x"], "text": ["third text", "second copy"]})
    out = tmp_path / "out"
    r = curate("run", FOUNDATION, "--input", str(tmp_path / "in"), "--output", str(out), "--on-error", "skip")
    assert r.returncode == 0, r.stderr
    errors = read_errors(out)
    assert errors == [{"file": "b.parquet", "row": 1, "reason": "duplicate_id",
                       "message": "duplicate id (first seen in a.parquet row 0)"}]
