"""Inputs that change during a run (issue 35, finding 5).

Every input file's content fingerprint (the manifest's) is checked again when the run ends; a
file that changed while the run read it is exit 2 naming it, and no ``_SUCCESS`` is written: the
output would mix the file's two versions (ids the id pre-pass never saw, a column the run's
schema does not have)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, env_with_repo, work_dir

PIPELINE = """
name: slow
settings:
  batch_rows: 32
stages:
  - stage: normalize
  - stage: tests.stages_for_tests:Slow
    params: {seconds: 0.05}
"""


def _jsonl(path: Path, prefix: str, n: int, extra: dict | None = None) -> None:
    with path.open("a") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"{prefix}-{i}", "text": f"document {i} of {prefix}, long enough to be kept. "
                                 * 3, **(extra or {})}) + "\n")


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _run(inp: Path, out: Path, tmp_path: Path, *flags: str) -> list[str]:
    pipe = tmp_path / "slow.yaml"
    pipe.write_text(PIPELINE)
    return [sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(inp), "--output", str(out),
            "--workers", "1", "--quiet", *flags]


def _after_the_id_prepass(inp: Path, tmp_path: Path, change) -> tuple[Path, int, str]:
    """Run the pipeline on `inp`; once the id pre-pass is done, pause the run, `change` the
    input, and let it go on. (OUTPUT, exit code, stderr)."""
    out = tmp_path / "out"
    ids_done = work_dir(out) / "stages" / "_ids" / "state" / "_DONE"
    run = subprocess.Popen(_run(inp, out, tmp_path), cwd=ROOT, env=env_with_repo(), stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        deadline = time.time() + 120
        while not ids_done.exists():
            assert run.poll() is None, run.stderr.read()
            assert time.time() < deadline, "the id pre-pass did not finish"
            time.sleep(0.01)
        os.killpg(run.pid, signal.SIGSTOP)
        change()
        os.killpg(run.pid, signal.SIGCONT)
        code = run.wait(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    return out, code, run.stderr.read()


def test_an_input_that_grows_during_the_run_is_exit_2_naming_it(tmp_path: Path) -> None:
    """The issue's reproduction: a JSON Lines file grows after the id pre-pass, with ids that
    are already in the input and a column the run's schema does not have. Before: exit 0, the
    duplicates in the output, the column silently dropped."""
    inp = tmp_path / "in"
    inp.mkdir()
    _jsonl(inp / "a.jsonl", "a", 300)
    _jsonl(inp / "b.jsonl", "b", 300)
    out, code, stderr = _after_the_id_prepass(
        inp, tmp_path, lambda: _jsonl(inp / "b.jsonl", "a", 100, {"lang": "en"}))  # a-0 ... a-99 again, a new column
    assert code == 2, stderr
    line = _error_line(stderr)
    assert "b.jsonl" in line and "changed during the run" in line and "--overwrite" in line, line
    assert not (out / "_SUCCESS").exists()
    # the run cannot be resumed into a mix either: the manifest knows the file's first content
    resumed = subprocess.run(_run(inp, out, tmp_path, "--resume"), cwd=ROOT, env=env_with_repo(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 2 and "input file b.jsonl changed" in _error_line(resumed.stderr), resumed.stderr


def test_an_input_touched_but_not_changed_is_no_change(tmp_path: Path) -> None:
    """The check is of content: a new modification time alone (a copy that kept the bytes, a
    touch) does not refuse the run."""
    inp = tmp_path / "in"
    inp.mkdir()
    _jsonl(inp / "a.jsonl", "a", 300)
    later = time.time_ns() + 10**9
    out, code, stderr = _after_the_id_prepass(inp, tmp_path, lambda: os.utime(inp / "a.jsonl", ns=(later, later)))
    assert code == 0, stderr
    assert (out / "_SUCCESS").exists()
