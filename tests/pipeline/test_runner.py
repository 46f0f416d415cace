"""The runner's contracts: determinism, accounting, resume after kill -9, refusing to clobber."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curate.api import Pipeline
from curate.errors import AccountingError, ConfigError, InputError
from curate.store import layout
from tests.conftest import (
    ROOT,
    env_with_repo,
    read_output,
    read_stats,
    shard_ids,
    work_dir,
    write_parquet,
)
from tests.stages_for_tests import KILLABLE_PIPELINE

FOUNDATION = [("normalize", {}), ("length_filter", {"min_chars": 50}), ("token_count", {}), ("exact_dedup", {})]


def _run(src: Path, out: Path, workers: int, **kw):
    return Pipeline.from_stages(FOUNDATION).run(src, out, workers=workers, keep_rejected=True,
                                                target_task_bytes=200_000, **kw)


def test_same_output_for_one_and_two_workers(sample_dir: Path, tmp_path: Path) -> None:
    r1 = _run(sample_dir, tmp_path / "w1", 1)
    r2 = _run(sample_dir, tmp_path / "w2", 2)
    assert r1.stats["tasks"] > 2
    assert shard_ids(tmp_path / "w1") == shard_ids(tmp_path / "w2")
    t1, t2 = read_output(tmp_path / "w1"), read_output(tmp_path / "w2")
    assert t1.equals(t2)
    strip = [{k: v for k, v in s.items() if k != "seconds"} for s in r1.stages]
    assert strip == [{k: v for k, v in s.items() if k != "seconds"} for s in r2.stages]


def test_accounting_holds_for_every_stage(sample_dir: Path, tmp_path: Path) -> None:
    result = _run(sample_dir, tmp_path / "out", 2)
    stages = read_stats(tmp_path / "out")["stages"]
    assert [s["stage"] for s in stages] == ["read", "normalize", "length_filter", "token_count", "exact_dedup"]
    for s in stages:
        assert s["docs_in"] == s["docs_out"] + s["rejected_total"] + s["errored"], s["stage"]
    for a, b in zip(stages, stages[1:]):
        assert b["docs_in"] == a["docs_out"]  # what one stage keeps, the next one reads
    assert stages[0]["docs_in"] == 2000
    assert result.stats["docs_out"] == stages[-1]["docs_out"] == len(read_output(tmp_path / "out"))


def test_a_stage_that_drops_rows_silently_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a", "b"], "text": ["one text", "two text"]})
    with pytest.raises(AccountingError, match="drops_rows.*never drop them"):
        Pipeline.from_stages(["tests.stages_for_tests:DropsRows"]).run(src, tmp_path / "out", workers=1)


def test_existing_output_needs_resume_or_overwrite(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(sample_dir, out, 1)
    with pytest.raises(ConfigError, match="already holds a finished run"):
        _run(sample_dir, out, 1)
    _run(sample_dir, out, 1, overwrite=True)
    assert (out / "_SUCCESS").exists()


def test_resume_refuses_a_different_configuration(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(sample_dir, out, 1)
    other = Pipeline.from_stages([("normalize", {}), ("length_filter", {"min_chars": 60})])
    with pytest.raises(ConfigError, match="interrupted run that differs: the pipeline changed"):
        other.run(sample_dir, out, workers=1, resume=True, keep_rejected=True, target_task_bytes=200_000)


def test_output_inside_input_is_refused(sample_dir: Path) -> None:
    with pytest.raises(ConfigError, match="inside the input"):
        Pipeline.from_stages(["passthrough"]).run(sample_dir, sample_dir / "out", workers=1)


def test_duplicate_ids_across_shards(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["x", "y"], "text": ["first doc", "second doc"]})
    write_parquet(src / "b.parquet", {"id": ["z", "x"], "text": ["third doc", "fourth doc"]})
    with pytest.raises(InputError, match=r"b.parquet row 1: duplicate id 'x' \(first seen in a.parquet row 0\)"):
        Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out", workers=1)
    result = Pipeline.from_stages(["passthrough"]).run(src, tmp_path / "out2", workers=1, on_error="skip")
    assert read_output(tmp_path / "out2").column("id").to_pylist() == ["x", "y", "z"]
    assert result.errors == [{"file": "b.parquet", "row": 1, "reason": "duplicate_id",
                              "message": result.errors[0]["message"]}]
    assert result.stages[0]["errored"] == 1
    lines = (tmp_path / "out2" / layout.ERRORS).read_text().splitlines()
    assert json.loads(lines[0])["row"] == 1




def _curate(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env_with_repo(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.faults
@pytest.mark.parametrize("kill_after_markers", [2, 6])
def test_resume_after_kill_9_gives_the_same_output(sample_dir: Path, tmp_path: Path, kill_after_markers: int) -> None:
    pipe = tmp_path / "p.yaml"
    pipe.write_text(KILLABLE_PIPELINE)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    base = ["run", str(pipe), "--input", str(sample_dir), "--workers", "2", "--quiet"]
    assert _curate([*base, "--output", str(clean)]).wait() == 0
    proc = _curate([*base, "--output", str(crashed)])
    deadline = time.time() + 120
    while time.time() < deadline:
        markers = list((work_dir(crashed)).glob("units/*/done/*.json")) if crashed.exists() else []
        if len(markers) >= kill_after_markers:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(["pkill", "-9", "-f", f"--output {crashed}"], check=False)
    assert not (crashed / "_SUCCESS").exists()
    resumed = _curate([*base, "--output", str(crashed), "--resume"])
    assert resumed.wait() == 0, resumed.stderr.read().decode()
    assert shard_ids(crashed) == shard_ids(clean)
    assert read_output(crashed).equals(read_output(clean))
    assert (crashed / "_SUCCESS").exists()


def test_killed_run_leaves_no_orphaned_workers(sample_dir: Path, tmp_path: Path) -> None:
    import psutil

    pipe = tmp_path / "p.yaml"
    pipe.write_text(KILLABLE_PIPELINE)
    proc = _curate(["run", str(pipe), "--input", str(sample_dir), "--output", str(tmp_path / "out"),
                    "--workers", "2", "--quiet"])
    deadline = time.time() + 60
    workers: list = []
    while time.time() < deadline and len(workers) < 2:
        workers = psutil.Process(proc.pid).children(recursive=True)
        workers = [w for w in workers if "spawn_main" in " ".join(w.cmdline())]
        time.sleep(0.05)
    assert len(workers) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "pool workers outlived the killed run"
