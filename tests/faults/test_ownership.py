"""A run owns its directory (marker and lease) and knows its inputs (content fingerprints).

Real `curate run` processes on the bundled sample; every refusal is exit 2 with one line, and
the user's files are never touched."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.store import layout
from curate.store.layout import LEASE, MARKER
from tests.conftest import ROOT, env_with_repo, read_stats, shard_ids, work_dir, write_parquet
from tests.stages_for_tests import KILLABLE_PIPELINE

SIMPLE = ["run", str(ROOT / "pipelines" / "foundation.yaml")]


def curate(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env or env_with_repo(),
                          capture_output=True, text=True, timeout=timeout)


def _error_line(r: subprocess.CompletedProcess) -> str:
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_two_runs_started_at_once_one_proceeds_the_other_names_the_holder(sample_dir: Path, tmp_path: Path) -> None:
    pipe = tmp_path / "killable.yaml"
    pipe.write_text(KILLABLE_PIPELINE)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(sample_dir), "--output", str(out),
           "--workers", "1", "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env_with_repo(), stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, err in results if rc == 2)
    assert "is in use by another curate run (pid" in loser and socket.gethostname() in loser
    assert (out / "_SUCCESS").exists() and not (out / LEASE).exists()  # released at the end


def test_a_live_lease_refuses_every_run_even_overwrite(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), "--quiet").returncode == 0
    now = time.time()
    (out / LEASE).write_text(json.dumps({"holder": "x", "host": "other-host", "pid": 1, "started": now - 5,
                                         "heartbeat": now, "ttl": 30.0}))
    for flags in (["--overwrite"], ["--resume"]):
        r = curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), *flags)
        assert r.returncode == 2
        assert "in use by another curate run (pid 1 on other-host" in _error_line(r)
    assert (out / "_SUCCESS").exists()  # the holder's directory is untouched


def test_a_stale_lease_is_reported_and_taken_over(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), "--quiet").returncode == 0
    old = time.time() - 3600
    (out / LEASE).write_text(json.dumps({"holder": "x", "host": "other-host", "pid": 1, "started": old,
                                         "heartbeat": old, "ttl": 30.0}))
    r = curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), "--overwrite")
    assert r.returncode == 0, r.stderr
    assert "taking over a stale lease" in r.stderr
    assert re.search(r"its last heartbeat was 36\d\d s ago \(ttl 30 s\)", r.stderr)
    assert not (out / LEASE).exists()


def test_overwrite_and_resume_refuse_a_directory_no_run_made(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    write_parquet(out / "part-00000.parquet", {"id": ["mine"], "text": ["the user's own file"]})
    before = (out / "part-00000.parquet").read_bytes()
    for flag in ("--overwrite", "--resume"):
        r = curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), flag)
        assert r.returncode == 2
        assert f"holds files that no curate run wrote (no {MARKER}); {flag} refuses" in _error_line(r)
    assert (out / "part-00000.parquet").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet"]


def test_overwrite_refuses_an_output_that_contains_the_input(tmp_path: Path) -> None:
    src = tmp_path / "data" / "in"
    write_parquet(src / "a.parquet", {"id": ["a"], "text": ["kept safe"]})
    r = curate(*SIMPLE, "--input", str(src), "--output", str(tmp_path / "data"), "--overwrite")
    assert r.returncode == 2 and "contains the input" in _error_line(r)
    assert pq.read_table(src / "a.parquet").num_rows == 1


def test_the_marker_survives_cleaning_work(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), "--quiet").returncode == 0
    assert json.loads((out / MARKER).read_text())["tool"] == "curate"
    shutil.rmtree(work_dir(out))
    r = curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), "--overwrite", "--quiet")
    assert r.returncode == 0, r.stderr


def test_a_run_whose_lease_is_taken_away_stops_with_exit_2(sample_dir: Path, tmp_path: Path) -> None:
    pipe = tmp_path / "killable.yaml"
    pipe.write_text(KILLABLE_PIPELINE)
    out = tmp_path / "out"
    env = {**env_with_repo(), "CURATE_LEASE_INTERVAL": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(sample_dir),
                             "--output", str(out), "--workers", "1", "--quiet"], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / LEASE).exists() and time.time() < deadline:
        time.sleep(0.05)
    (out / LEASE).unlink()  # as a concurrent wipe of the directory would
    assert proc.wait(timeout=300) == 2
    assert "lease was removed; this run stopped without finishing" in proc.stderr.read()
    assert not (out / "_SUCCESS").exists()


# ---- content fingerprints -------------------------------------------------------------------
def _crash_then_resume(args: list[str], change, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**env_with_repo(), "CURATE_FAULT": "task_done:2", "CURATE_FAULT_DIR": str(tmp_path / "faults")}
    crashed = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--workers", "1", "--quiet"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300, start_new_session=True)
    assert crashed.returncode != 0
    change()
    return curate(*args, "--workers", "1", "--resume")


def test_resume_refuses_an_input_edited_in_place_with_its_timestamp_restored(sample_dir: Path,
                                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    victim = sorted(sample_dir.glob("*.parquet"))[-1]

    def edit() -> None:
        st = victim.stat()
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01  # one byte inside a data page: footer and size unchanged
        victim.write_bytes(bytes(data))
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))

    r = _crash_then_resume([*SIMPLE, "--input", str(sample_dir), "--output", str(out)], edit, tmp_path)
    assert r.returncode == 2
    assert f"input file {victim.name} changed since the interrupted run" in _error_line(r)


def test_resume_refuses_a_model_retrained_at_the_same_path(sample_dir: Path, tmp_path: Path) -> None:
    from curate.classifiers.fasttext import TrainParams
    from curate.classifiers.train import train_classifier

    model = tmp_path / "m.bin"
    labelled = tmp_path / "labelled"
    rows = pq.read_table(sorted(sample_dir.glob("*.parquet"))[0], columns=["id", "text", "true_domain"])
    labelled.mkdir()
    pq.write_table(rows, labelled / "x.parquet")
    train_classifier(labelled, "true_domain", model, params=TrainParams(epochs=2, dim=8, bucket=1000, seed=1))
    args = ["classify", "--model", str(model), "--column", "domain", "--input", str(sample_dir),
            "--output", str(tmp_path / "out")]

    def retrain() -> None:
        train_classifier(labelled, "true_domain", model, params=TrainParams(epochs=3, dim=8, bucket=1000, seed=2))

    r = _crash_then_resume(args, retrain, tmp_path)
    assert r.returncode == 2
    assert f"file read by a stage classify: {model} changed since the interrupted run" in _error_line(r)


def test_an_unchanged_resume_gives_the_clean_output(sample_dir: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    assert curate(*SIMPLE, "--input", str(sample_dir), "--output", str(clean), "--quiet").returncode == 0
    out = tmp_path / "out"
    r = _crash_then_resume([*SIMPLE, "--input", str(sample_dir), "--output", str(out)], lambda: None, tmp_path)
    assert r.returncode == 0, r.stderr
    assert shard_ids(out) == shard_ids(clean)


@pytest.mark.parametrize("name", ["br[a]ck*ets?", "it's a dir", "ünïcødé 输出"])
def test_output_paths_with_any_character(name: str, sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / name / "out"
    r = curate(*SIMPLE, "--input", str(sample_dir), "--output", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert (out / "_SUCCESS").exists() and sum(len(s) for s in shard_ids(out)) > 0


def test_duckdb_reads_a_path_with_glob_characters_as_itself(tmp_path: Path) -> None:
    from curate.store.duck import connect, sql_list

    (tmp_path / "a[1]").mkdir()
    write_parquet(tmp_path / "a[1]" / "x.parquet", {"v": [1]})
    write_parquet(tmp_path / "a1" / "x.parquet", {"v": [2]})  # what the glob a[1] would match instead
    write_parquet(tmp_path / "b*" / "y.parquet", {"v": [3]})
    write_parquet(tmp_path / "bzz" / "y.parquet", {"v": [4]})
    con = connect(tmp_path / "tmp")
    got = con.execute(f"SELECT v FROM read_parquet({sql_list([tmp_path / 'a[1]' / 'x.parquet', tmp_path / 'b*' / 'y.parquet'])}) "
                      "ORDER BY v").fetchall()
    assert got == [(1,), (3,)]


def test_default_pipeline_on_an_output_path_with_every_special_character(default_pipeline: Path, sample_dir: Path,
                                                                        tmp_path: Path) -> None:
    out = tmp_path / "we[i]rd *?' ünï 输出" / "out"
    r = curate("run", str(default_pipeline), "--input", str(sample_dir), "--output", str(out), "--workers", "2",
               "--quiet")
    assert r.returncode == 0, r.stderr
    assert (out / "_SUCCESS").exists() and (out / layout.META / "sample" / "plan.json").exists()
    sinks = read_stats(out)["sinks"]
    assert sum(len(s) for s in shard_ids(out, "mixture")) == sinks["mixture"]["docs"] > 0
