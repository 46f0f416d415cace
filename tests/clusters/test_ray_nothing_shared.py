"""Ray with nothing shared but the storage, for real.

A two-node Ray cluster on loopback: the head (no CPUs, so every unit of work and every combine
job runs on the worker) and a worker node in its own mount namespace (``unshare --mount`` with a
fresh tmpfs on /tmp), which sees none of the driver's files: not its working directory, not its
temp directory (where the driver's scratch lives), not the demo models. Input, models, the
pipeline YAML and OUTPUT are on a loopback S3 server; the driver runs from a directory under the
driver's /tmp. One cluster serves every test of the module.

Checked: the default pipeline and ``curate dedup --exact --verify`` write, byte for byte, the
files a local run writes; the worker process that runs the first MinHash band job is killed
(SIGKILL, by ``CURATE_FAULT`` set on the worker node only) and Ray's retry finishes the run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from curate.store.layout import WorkStore
from tests.clusters.loopback import (
    descendants,
    free_port,
    models_on_s3,
    ray_node,
    s3_view,
    stop_nodes,
    upload,
    without_timings,
)
from tests.conftest import SAMPLE, env_with_repo

pytest.importorskip("ray")
pytest.importorskip("s3fs")
pytestmark = [pytest.mark.ray, pytest.mark.s3]

# the worker node's own /tmp, and where it counts fault checkpoints (on that tmpfs)
FAULTS = "/tmp/curate-faults"
# `unshare` runs the node in a new mount namespace (private: nothing mounted there leaks out), a
# shell mounts a fresh tmpfs on /tmp, then execs `ray start` with the arguments it is given
OWN_TMP = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
           f'mount -t tmpfs -o size=1g tmpfs /tmp && mkdir -p {FAULTS} && exec "$@"', "node"]
KILLED_JOB = "minhash_band"  # the fault point at the start of a MinHash band job (curate.faults)


@dataclass
class Cluster:
    address: str
    worker: subprocess.Popen  # the worker node's `ray start` (in its mount namespace)
    env: dict  # the driver's environment
    bucket: str

    def sees(self, path: Path | str) -> bool:
        """Whether the worker node sees `path` (through its process's view of the filesystem)."""
        return Path(f"/proc/{self.worker.pid}/root{Path(path).resolve()}").exists()

    def faults(self, point: str) -> int:
        """How many times processes on the worker node reached the fault checkpoint `point`."""
        counter = Path(f"/proc/{self.worker.pid}/root{FAULTS}/fault-{point}.count")
        return counter.stat().st_size if counter.exists() else 0


def _can_unshare() -> str | None:
    """Why a node cannot get its own mount namespace with a tmpfs here (None: it can)."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run([*OWN_TMP, "true"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare --mount needs root: {probe.stderr.strip()}"


@pytest.fixture(scope="module")
def cluster(s3_server: str, default_pipeline: Path) -> Iterator[Cluster]:
    """The two nodes, and a bucket holding the input, the models and the pipeline YAML."""
    why = _can_unshare()
    if why:  # not an "environment:" skip: `make test` (CI runs as root) fails here instead
        pytest.skip(why)
    import yaml

    fs = s3_view(s3_server)
    bucket = f"nothing-shared-{free_port()}"
    fs.mkdir(bucket)
    upload(fs, SAMPLE, f"{bucket}/in")
    fs.pipe(f"{bucket}/default.yaml",
            yaml.safe_dump(models_on_s3(fs, default_pipeline, bucket), sort_keys=False).encode())
    # a private cluster on loopback: no token authentication (drivers would need the token file)
    env = {**env_with_repo(), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    worker_env = {**env, "TMPDIR": "/tmp", "CURATE_FAULT": f"{KILLED_JOB}:1", "CURATE_FAULT_DIR": FAULTS}
    port = free_port()
    head_tmp = tempfile.mkdtemp(prefix="curate-ray-")  # short: it holds Unix sockets
    nodes: list[subprocess.Popen] = []
    tree: list = []
    try:
        nodes.append(ray_node(["--head", "--port", str(port), "--include-dashboard", "false",
                               "--temp-dir", head_tmp], env, Path(head_tmp), cpus=0))
        nodes.append(ray_node(["--address", f"127.0.0.1:{port}", "--dashboard-agent-listen-port", str(free_port()),
                               "--metrics-export-port", str(free_port())], worker_env, Path("/"), cpus=2,
                              wrapper=OWN_TMP))
        tree = [p for n in nodes for p in descendants(n.pid)]
        yield Cluster(f"127.0.0.1:{port}", nodes[1], env, bucket)
    finally:
        stop_nodes(nodes, tree)
        shutil.rmtree(head_tmp, ignore_errors=True)


def _run_files(root: Path) -> dict[str, bytes]:
    """Every file a run leaves under `root` but its work store, its identity (the marker, the
    lease, _SUCCESS: they name the run) and its stats (which hold timings), by path relative to
    `root`."""
    store = WorkStore.open(root)
    skip = {store.stats_file, store.marker, store.lease, store.success_file}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and str(p) not in skip and not p.is_relative_to(store.work)}


def _stats(root: Path) -> dict:
    return without_timings(json.loads(Path(WorkStore.open(root).stats_file).read_text()))


def _assert_same_bytes(local: Path, remote: Path) -> None:
    here, there = _run_files(local), _run_files(remote)
    assert sorted(here) == sorted(there)
    assert [name for name in here if here[name] != there[name]] == []
    assert Path(WorkStore.open(local).success_file).is_file() and Path(WorkStore.open(remote).success_file).is_file()
    assert _stats(local) == _stats(remote)


def _on_the_cluster(cluster: Cluster, args: list[str], cwd: Path, output: str, got: Path) -> None:
    """`curate ARGS --executor ray` from `cwd` (which the worker cannot see), writing `output` on
    the store; then the output downloaded to `got`."""
    assert not cluster.sees(cwd) and cluster.sees(Path(sys.executable))
    r = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--output", output, "--executor", "ray",
                        "--executor-option", f"address={cluster.address}", "--quiet"],
                       cwd=cwd, env=cluster.env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    s3_view(cluster.env["AWS_ENDPOINT_URL"]).get(output.removeprefix("s3://") + "/", str(got), recursive=True)


def test_default_pipeline_survives_a_killed_worker_and_writes_the_local_runs_bytes(
        cluster: Cluster, default_pipeline: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    r = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(default_pipeline), "--input", str(SAMPLE),
                        "--output", str(local), "--workers", "2", "--quiet"], cwd=tmp_path, env=env_with_repo(),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert cluster.faults(KILLED_JOB) == 0
    b = cluster.bucket
    _on_the_cluster(cluster, ["run", f"s3://{b}/default.yaml", "--input", f"s3://{b}/in"], tmp_path,
                    f"s3://{b}/default", tmp_path / "got")
    # the first band job on the worker node was killed (its count reached 1); Ray ran it again
    assert cluster.faults(KILLED_JOB) > 1
    _assert_same_bytes(local, tmp_path / "got")
    stages = {s["stage"]: s for s in _stats(local)["stages"]}
    assert stages["minhash_dedup"]["summary"]["band_edges"] > 0  # the band jobs found candidates
    assert stages["sample"]["summary"]["rows_out"] > 0  # and the sampler's scatter jobs wrote copies


def test_dedup_with_exact_check_writes_the_local_runs_bytes(cluster: Cluster, tmp_path: Path) -> None:
    args = ["dedup", "--exact", "--verify", "--keep-rejected"]
    local = tmp_path / "local"
    r = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--input", str(SAMPLE), "--output", str(local),
                        "--workers", "2", "--quiet"], cwd=tmp_path, env=env_with_repo(), capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    _on_the_cluster(cluster, [*args, "--input", f"s3://{cluster.bucket}/in"], tmp_path,
                    f"s3://{cluster.bucket}/dedup", tmp_path / "got")
    _assert_same_bytes(local, tmp_path / "got")
    summary = _stats(local)["stages"][-1]["summary"]
    assert summary["pair_check"] == "exact" and summary["near_duplicates"] > 0
