"""Helpers of the cluster tests: Ray nodes started on loopback, the processes they leave, the
test's own view of the loopback S3 server, and the comparison of two runs' outputs."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curate.store import layout
from tests.conftest import read_output, read_stats, shard_ids, sink_dirs

TIMINGS = {"seconds", "wall_seconds"}
RAY_CLI = str(Path(sys.executable).parent / "ray")


# --------------------------------------------------------------------------- the S3 store
def s3_view(endpoint: str) -> Any:
    """The test's own view of the store (no listing cache: curate's processes write it)."""
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True, use_listings_cache=False)


def upload(fs: Any, local: Path, prefix: str) -> None:
    """Every file under `local` to `prefix`, at the same relative path."""
    for p in sorted(local.rglob("*")):
        if p.is_file():
            fs.put_file(str(p), f"{prefix}/{p.relative_to(local).as_posix()}")


def models_on_s3(fs: Any, default_pipeline: Path, bucket: str) -> dict:
    """The default pipeline's spec with its models (and their cards) copied to the store."""
    import yaml

    spec = yaml.safe_load(default_pipeline.read_text())
    for stage in spec["stages"]:
        params = stage.get("params") or {}
        if "model" in params:
            model = Path(params["model"])
            for f in (model, model.with_suffix(".json")):
                if f.exists():
                    fs.put_file(str(f), f"{bucket}/models/{f.name}")
            params["model"] = f"s3://{bucket}/models/{model.name}"
    return spec


# --------------------------------------------------------------------------- Ray nodes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_node(args: list[str], env: dict, cwd: Path, cpus: int = 1, wrapper: Sequence[str] = ()) -> subprocess.Popen:
    """`ray start --block ...` (a head or a worker node with `cpus` CPUs), returned once the node
    is up. `wrapper` runs it inside another command (a shell in its own mount namespace, which
    must exec `ray start` with the arguments it is given: "$@")."""
    command = [RAY_CLI, "start", "--block", "--num-cpus", str(cpus), "--object-store-memory", str(80 << 20),
               "--node-ip-address", "127.0.0.1", "--disable-usage-stats", *args]
    proc = subprocess.Popen([*wrapper, *command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Ray runtime started" in line:
            break
    assert proc.poll() is None, "".join(seen)
    return proc


def descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(procs: list, timeout: float = 30) -> None:
    """SIGKILL the given processes (by pid, each one we started) and wait until they are gone."""
    import psutil

    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=timeout)


def stop_nodes(nodes: list[subprocess.Popen], seen: list) -> None:
    """Kill Ray nodes started with :func:`ray_node` and every process under them (`seen`: those
    found earlier, in case a node is already gone)."""
    tree = [p for n in nodes for p in descendants(n.pid)] or seen
    for n in nodes:
        n.kill()
        n.wait()
    kill_tree(tree)


# --------------------------------------------------------------------------- comparing runs
def without_timings(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMINGS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def assert_same_run(a: Path, b: Path) -> None:
    """Same kept ids in the same order per shard, same columns and values, same rejects, same
    stats (timings aside)."""
    sinks = list(sink_dirs(a))
    assert sinks == list(sink_dirs(b))
    for sink in sinks:
        assert shard_ids(a, sink) == shard_ids(b, sink)
        ta, tb = read_output(a, sink), read_output(b, sink)
        assert ta.schema == tb.schema
        assert ta.equals(tb)
    rejected_a = sorted(p.relative_to(a) for p in a.glob(f"{layout.REJECTED}/*/*.parquet"))
    assert rejected_a == sorted(p.relative_to(b) for p in b.glob(f"{layout.REJECTED}/*/*.parquet"))
    for rel in rejected_a:
        assert pq.read_table(a / rel).equals(pq.read_table(b / rel)), rel
    assert without_timings(read_stats(a)) == without_timings(read_stats(b))
    assert (a / "_SUCCESS").exists() and (b / "_SUCCESS").exists()
