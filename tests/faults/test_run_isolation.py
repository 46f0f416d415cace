"""No run mixes into another (issue 35, finding 1).

A run id in every marker and in the lease; a task's files and done marker accepted only under
the current run id; the lease checked before every file a run publishes; a lease stale when its
heartbeat is older than its ttl, its process's absence counting only where curate can tell that
it would see that process (same kernel boot, same PID namespace). Real `curate run` processes:
paused with SIGSTOP, killed, started in another PID namespace."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.pipeline.ownership import INTERVAL_ENV, LEASE, LeaseRecord, this_process
from tests.conftest import (
    ROOT,
    data_dir,
    env_with_repo,
    read_output,
    read_stats,
    rejected_dir,
    shard_ids,
    work_dir,
)
from tests.stages_for_tests import KILLABLE_PIPELINE

CURATE = [sys.executable, "-m", "curate.cli"]
SIMPLE = "name: simple\nstages:\n  - stage: normalize\n"


def _slow(seconds: float) -> str:
    """The killable pipeline with `seconds` of sleep per batch."""
    return KILLABLE_PIPELINE.replace("seconds: 0.05", f"seconds: {seconds}")


def _wait_for(what, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not what():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _stats_without_time(out: Path) -> dict:
    stats = read_stats(out)
    return {"stages": [{k: v for k, v in s.items() if k != "seconds"} for s in stats["stages"]],
            "sinks": stats["sinks"], "errors": stats["errors"]}


# ---- a paused run and the run that took its directory over ----------------------------------
def test_a_paused_run_publishes_nothing_into_the_run_that_took_over(sample_dir: Path, tmp_path: Path) -> None:
    """The issue's reproduction: run A is paused past its lease's ttl; run B, with other
    settings, takes the stale lease with --overwrite and wipes; A is continued. A must publish
    nothing more (it stops with exit 2) and B's output must be a clean run's."""
    pipe = tmp_path / "slow.yaml"
    pipe.write_text(_slow(0.1))
    out = tmp_path / "out"
    env = {**env_with_repo(), INTERVAL_ENV: "0.2"}  # ttl 0.6 s
    base = [*CURATE, "run", str(pipe), "--input", str(sample_dir), "--workers", "1", "--quiet"]
    b_args = ["--max-doc-bytes", "2000"]
    read_done = work_dir(out) / "units" / "read" / "done"

    a = subprocess.Popen([*base, "--output", str(out)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    b = None
    try:
        _wait_for(lambda: read_done.is_dir() and any(read_done.glob("*.json")))
        os.killpg(a.pid, signal.SIGSTOP)  # in the middle of its read pass
        n_tasks = len(json.loads((work_dir(out) / "manifest.json").read_text())["inputs"])
        assert len(list(read_done.glob("*.json"))) < n_tasks, "run A finished its read pass before the pause"
        a_holder = _json(out / LEASE)["holder"]
        time.sleep(1.5)  # A's heartbeat is now older than its ttl

        b = subprocess.Popen([*base, "--output", str(out), "--overwrite", *b_args], cwd=ROOT, env=env,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        _wait_for(lambda: (_json(work_dir(out) / "manifest.json") or {}).get("settings", {}).get("max_doc_bytes")
                  == 2000)
        os.killpg(b.pid, signal.SIGSTOP)  # B took the lease and wiped; A goes on first
        assert _json(out / LEASE)["holder"] != a_holder
        os.killpg(a.pid, signal.SIGCONT)
        assert a.wait(timeout=120) == 2
        a_err = a.stderr.read()
        assert "another run took the output directory over" in a_err and "Traceback" not in a_err, a_err
        os.killpg(b.pid, signal.SIGCONT)
        assert b.wait(timeout=300) == 0, b.stderr.read()
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    clean = tmp_path / "clean"
    r = subprocess.run([*base, "--output", str(clean), *b_args], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert shard_ids(out) == shard_ids(clean)
    assert read_output(out).equals(read_output(clean))
    assert _stats_without_time(out) == _stats_without_time(clean)
    rejected = sorted(p.relative_to(clean) for p in rejected_dir(clean).glob("**/*.parquet"))
    assert sorted(p.relative_to(out) for p in rejected_dir(out).glob("**/*.parquet")) == rejected
    for rel in rejected:
        assert pq.read_table(out / rel).equals(pq.read_table(clean / rel))


def test_a_done_marker_of_another_run_is_redone_not_accepted(sample_dir: Path, tmp_path: Path) -> None:
    """A task's done marker names its run; a resumed run accepts only its own. A marker (and
    the shard under it) that another run left is redone."""
    pipe = tmp_path / "simple.yaml"
    pipe.write_text(SIMPLE)
    args = [*CURATE, "run", str(pipe), "--input", str(sample_dir), "--workers", "1", "--quiet"]
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert subprocess.run([*args, "--output", str(clean)], cwd=ROOT, capture_output=True).returncode == 0
    env = {**env_with_repo(), "CURATE_FAULT": "task_done:7", "CURATE_FAULT_DIR": str(tmp_path)}  # 3rd read task
    crashed = subprocess.run([*args, "--output", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                             start_new_session=True)
    assert crashed.returncode == -9, crashed.stderr
    marker = work_dir(out) / "units" / "read" / "done" / "part-00001.json"
    report = json.loads(marker.read_text())
    assert report["run"] == json.loads((work_dir(out) / "manifest.json").read_text())["run"]
    marker.write_text(json.dumps({**report, "run": "another-run"}))
    shutil.copy(data_dir(out) / "part-00000.parquet", data_dir(out) / "part-00001.parquet")  # what that other run wrote
    resumed = subprocess.run([*args, "--output", str(out), "--resume"], cwd=ROOT, env=env_with_repo(),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert shard_ids(out) == shard_ids(clean)
    assert json.loads(marker.read_text())["run"] == report["run"]
    assert json.loads((out / "_SUCCESS").read_text())["run"] == report["run"]


# ---- staleness: the heartbeat decides; a process's absence only where it can be seen -------
def _record(**kw) -> LeaseRecord:
    now = time.time()
    return LeaseRecord(**{"holder": "x", "host": socket.gethostname(), "pid": 1, "started": now, "heartbeat": now,
                          "ttl": 30.0, **kw})


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_lease_is_stale_by_its_heartbeat_or_its_process_gone_in_this_pid_namespace() -> None:
    me = this_process()
    assert me.boot and me.pid_ns and me.pid_start
    here = {"boot": me.boot, "pid_ns": me.pid_ns}
    assert _record(heartbeat=time.time() - 60, pid=os.getpid(), pid_start=me.pid_start, **here).is_stale()[0]
    assert not _record(pid=os.getpid(), pid_start=me.pid_start, **here).is_stale()[0]
    dead = _record(pid=_dead_pid(), pid_start=1, **here).is_stale()
    assert dead[0] and "is gone" in dead[1]
    reused = _record(pid=os.getpid(), pid_start=me.pid_start + 1, **here).is_stale()  # this pid, another process
    assert reused[0] and "is gone" in reused[1]
    # a pid that is not visible here says nothing about a process in another namespace or boot
    assert not _record(pid=_dead_pid(), pid_start=1, boot=me.boot, pid_ns="pid:[1]").is_stale()[0]
    assert not _record(pid=_dead_pid(), pid_start=1, boot="another-boot", pid_ns=me.pid_ns).is_stale()[0]
    assert not _record(pid=_dead_pid()).is_stale()[0]  # a lease that says nothing of its namespace


def _free_pid() -> int:
    """A pid that no process holds here."""
    for pid in range(int(Path("/proc/sys/kernel/pid_max").read_text()) - 100, 300, -1):
        if not Path(f"/proc/{pid}").exists():
            return pid
    raise AssertionError("no free pid")


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare(1) as root")
def test_a_live_run_in_another_pid_namespace_keeps_its_lease(sample_dir: Path, tmp_path: Path) -> None:
    """The issue's case: a run in another PID namespace on a host of the same name (a container
    with host networking) holds OUTPUT with a fresh heartbeat; its pid is not visible here. The
    run started here must refuse, not take the lease over and wipe."""
    pipe = tmp_path / "slow.yaml"
    pipe.write_text(_slow(2))
    out = tmp_path / "out"
    pid = _free_pid()
    inner = ("import os, subprocess, sys\n"
             f"open('/proc/sys/kernel/ns_last_pid', 'w').write('{pid - 1}')\n"
             "sys.exit(subprocess.call(sys.argv[1:]))\n")
    cmd = [*CURATE, "run", str(pipe), "--input", str(sample_dir), "--output", str(out), "--workers", "1", "--quiet"]
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare --pid is not allowed here: {probe.stderr.decode().strip()}")
    a = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", inner, *cmd],
                         cwd=ROOT, env=env_with_repo(), stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: (_json(out / LEASE) or {}).get("pid") == pid)
        lease = _json(out / LEASE)
        assert lease["host"] == socket.gethostname() and not Path(f"/proc/{pid}").exists()
        assert lease["pid_ns"] != this_process().pid_ns
        b = subprocess.run([*cmd, "--overwrite"], cwd=ROOT, env=env_with_repo(), capture_output=True, text=True,
                           timeout=300)
        assert b.returncode == 2, b.stderr
        assert f"is in use by another curate run (pid {pid} on {socket.gethostname()}" in b.stderr
        assert a.poll() is None and (work_dir(out) / "manifest.json").exists()  # A runs on, its files untouched
    finally:
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()


def test_a_store_whose_lease_was_taken_publishes_and_deletes_nothing(tmp_path: Path) -> None:
    """The guard itself, in one process: once another run holds the lease, the store's writes
    and deletes raise LeaseLost (exit 2) and leave OUTPUT as the other run has it."""
    from curate.pipeline.ownership import Lease, LeaseLost
    from curate.store.layout import WorkStore

    store = WorkStore.open(tmp_path / "out")
    lease = Lease(store)
    lease.acquire()
    try:
        store.files.write_bytes(store.path("mine.txt"), b"held")
        theirs = {**_json(tmp_path / "out" / LEASE), "holder": "another-run"}
        (tmp_path / "out" / LEASE).write_text(json.dumps(theirs))
        with pytest.raises(LeaseLost, match="another run took the output directory over"):
            store.files.write_bytes(store.path("late.txt"), b"late")
        with pytest.raises(LeaseLost):
            store.files.delete(store.path("mine.txt"))
        assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
                      if p.is_file()) == [LEASE, "mine.txt"]
    finally:
        lease.release()
    assert _json(tmp_path / "out" / LEASE)["holder"] == "another-run"  # not released: not this run's


def test_a_manifest_without_a_run_id_is_not_resumed(tmp_path: Path) -> None:
    """An interrupted run of a curate before run ids: its markers name no run, so --resume
    refuses (exit 2) rather than accept them."""
    from curate.errors import ConfigError
    from curate.pipeline.manifest import open_manifest
    from curate.store.layout import WorkStore

    store = WorkStore.open(tmp_path / "out")
    manifest = {"version": "x", "inputs": {}}
    store.files.write_json(store.manifest, manifest)
    with pytest.raises(ConfigError, match="an interrupted run of an earlier curate"):
        open_manifest(store, manifest)
    store.files.write_json(store.manifest, {"run": "r1", **manifest})
    assert open_manifest(store, manifest) == "r1" == store.run_id
