"""The Ray executor: a real local Ray (2 CPUs) gives the local executor's output, runs stages
defined here, fans out combine steps, reports worker errors by file and row, resumes after the
driver is killed with SIGKILL, and joins a running cluster by address."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError, InputError
from curate.pipeline.stage import (
    CombineContext,
    GlobalStage,
    MapStage,
    Param,
    TaskContext,
    reject_rows,
    set_column,
)
from curate.store import layout
from curate.store.state import StageStore
from tests.clusters.loopback import (
    assert_same_run,
    descendants,
    free_port,
    kill_tree,
    ray_node,
    stop_nodes,
)
from tests.conftest import (
    CURATE,
    PIPELINES,
    ROOT,
    env_with_repo,
    meta_file,
    read_output,
    read_stats,
    shard_ids,
    write_parquet,
)
from tests.stages_for_tests import KILLABLE_PIPELINE

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_ray")]



# --------------------------------------------------------------------------- custom stages
class WorkerPid(MapStage):
    """A custom map stage defined in this test module: records the pid of the process it ran in."""

    name = "worker_pid"
    params = {}

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return set_column(table, "worker_pid", pa.array([os.getpid()] * table.num_rows, pa.int64()))


def _chars_of_partial(job: tuple[StageStore, int]) -> tuple[int, int]:
    """Combine fan-out unit (runs as a Ray task, on any node): documents and characters of one
    task's partial file, read through the work store (never a path on the driver's disk)."""
    store, task = job
    chars = store.files.read_table(store.partial(task), columns=["chars"]).column("chars")
    return len(chars), int(pc.sum(chars).as_py() or 0)


class ShortVsMean(GlobalStage):
    """A custom global stage defined here: rejects documents shorter than `fraction` x the mean
    length of the whole corpus (summarize lengths, combine fanned out per partial, apply)."""

    name = "short_vs_mean"
    params = {"fraction": Param(float, 0.25, "reject below this fraction of the mean length", min=0)}

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return pa.table({"chars": pc.utf8_length(table.column(schema.TEXT)).cast(pa.int64())})

    def combine(self, ctx: CombineContext) -> None:
        parts = ctx.map(_chars_of_partial, [(ctx.store, t) for t in range(ctx.n_tasks)])
        docs, chars = sum(p[0] for p in parts), sum(p[1] for p in parts)
        mean = chars / max(docs, 1)
        ctx.store.write_json("mean", {"mean": mean})
        ctx.summary.update({"mean_chars": round(mean, 3), "partials": [p[0] for p in parts]})

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        mean = ctx.store.read_json("mean")["mean"]
        chars = pc.utf8_length(table.column(schema.TEXT))
        table = set_column(table, "rel_length", pc.divide(chars.cast(pa.float64()), mean))
        return reject_rows(table, pc.less(chars, self.fraction * mean), "short_vs_mean:short")


def _sum_row(shared: np.ndarray, i: int) -> float:
    return float(shared[i].sum())


# --------------------------------------------------------------------------- helpers
def read_output_files(paths: list[Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in paths])


# --------------------------------------------------------------------------- tests
def test_foundation_pipeline_gives_the_local_executors_output(sample_dir: Path, tmp_path: Path) -> None:
    pipe = Pipeline.from_yaml(PIPELINES / "foundation.yaml")
    local = pipe.run(sample_dir, tmp_path / "local", workers=2)
    on_ray = pipe.run(sample_dir, tmp_path / "ray", workers=2, executor="ray")
    assert on_ray.stats["tasks"] > 2  # more tasks than workers: results arrive out of order
    assert on_ray.stats["docs_out"] == local.stats["docs_out"] > 0
    assert any(s["rejected_total"] for s in on_ray.stages)
    assert_same_run(tmp_path / "local", tmp_path / "ray")


def test_default_pipeline_gives_the_local_executors_output(default_pipeline: Path, sample_dir: Path,
                                                           tmp_path: Path) -> None:
    pipe = Pipeline.from_yaml(default_pipeline)
    pipe.run(sample_dir, tmp_path / "local", workers=2)
    on_ray = pipe.run(sample_dir, tmp_path / "ray", workers=2, executor="ray")
    assert [s["stage"] for s in on_ray.stages][-3:] == ["minhash_dedup", "quality_buckets", "sample"]
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    for name in ("buckets.json", "plan.json"):
        assert meta_file(tmp_path / "ray", name).read_text() == meta_file(tmp_path / "local", name).read_text()


def test_custom_stages_defined_in_this_module_run_on_ray(sample_dir: Path, tmp_path: Path) -> None:
    # uneven shards, so the combine fan-out's results show whether they come back in task order
    corpus = read_output_files(sorted(sample_dir.glob("*.parquet")))
    sizes = [300, 700, 150, 850]
    starts = np.cumsum([0, *sizes])
    for i, (a, n) in enumerate(zip(starts, sizes)):
        write_parquet(tmp_path / "in" / f"shard-{i}.parquet", corpus.slice(int(a), n).to_pydict())

    def pipeline() -> Pipeline:
        return Pipeline("custom").add("normalize").add(WorkerPid).add(ShortVsMean, fraction=0.5)

    on_ray = pipeline().run(tmp_path / "in", tmp_path / "ray", workers=2, executor="ray", keep_rejected=True)
    out = read_output(tmp_path / "ray")
    pids = set(out.column("worker_pid").to_pylist())
    assert os.getpid() not in pids  # every unit ran in a Ray worker process, not in the driver
    assert pc.min(out.column("rel_length")).as_py() >= 0.5
    custom = on_ray.stages[-1]
    assert custom["stage"] == "short_vs_mean"
    assert custom["rejected"]["short_vs_mean:short"] > 0
    assert custom["summary"]["partials"] == sizes  # one Ray task per partial, results in task order

    pipeline().run(tmp_path / "in", tmp_path / "local", workers=2, keep_rejected=True)
    local = read_output(tmp_path / "local")
    assert shard_ids(tmp_path / "ray") == shard_ids(tmp_path / "local")
    assert out.drop_columns(["worker_pid"]).equals(local.drop_columns(["worker_pid"]))
    assert custom["summary"] == read_stats(tmp_path / "local")["stages"][-1]["summary"]


def test_relative_paths_mean_the_drivers_working_directory(sample_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The module's Ray was started from another directory; its workers run in their own, and the
    # driver resolves relative paths before anything is sent to them.
    monkeypatch.chdir(tmp_path)
    assert Path.cwd() != ROOT
    pipe = Pipeline.from_stages(["normalize", ("length_filter", {"min_chars": 100})])
    pipe.run(sample_dir.name, "ray-out", workers=2, executor="ray")
    pipe.run(sample_dir.name, "local-out", workers=2)
    assert_same_run(tmp_path / "local-out", tmp_path / "ray-out")


def test_a_shared_argument_is_put_into_the_object_store_once() -> None:
    from curate.executors.ray import RayExecutor

    ex = RayExecutor(2)
    shared = np.arange(400_000, dtype=np.float64).reshape(8, -1)
    results = {args[1]: r for args, r in ex.imap(_sum_row, [(shared, i) for i in range(8)])}
    again = ex.map(float, [1, 2, 3])
    assert results == {i: float(shared[i].sum()) for i in range(8)}
    assert again == [1.0, 2.0, 3.0]
    assert [obj is shared for obj, _ in ex._refs.values()] == [True]
    ex.close()
    assert ray.is_initialized()  # it joined the Ray this module started, so it leaves it running


def test_a_bad_row_is_reported_by_file_and_row_not_as_a_ray_traceback(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a", "b"], "text": ["alpha text", "beta text"]})
    write_parquet(tmp_path / "in" / "b.parquet", {"id": ["c", None, "e"], "text": ["x y", "y z", "z w"]})
    with pytest.raises(InputError) as err:
        Pipeline.from_stages(["normalize"]).run(tmp_path / "in", tmp_path / "out", workers=2, executor="ray")
    assert type(err.value) is InputError
    assert str(err.value).startswith("b.parquet row 1: ")


def test_asking_for_ray_without_ray_installed_is_a_one_line_config_error(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "from curate.cli import main\n"
            f"main(['run', {str(PIPELINES / 'foundation.yaml')!r}, '--input', {str(ROOT / 'sample_data')!r}, "
            f"'--output', {str(tmp_path / 'out')!r}, '--executor', 'ray'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'curate[ray]'" in lines[0]
    from curate.executors.base import make_executor

    saved = sys.modules.get("ray")
    sys.modules["ray"] = None  # type: ignore[assignment]
    try:
        with pytest.raises(ConfigError, match=r"curate\[ray\]"):
            make_executor("ray", 2)
    finally:
        sys.modules["ray"] = saved  # type: ignore[assignment]


# --------------------------------------------------------------------------- subprocesses


@pytest.mark.slow
def test_resume_after_the_driver_is_killed_gives_the_same_output(sample_dir: Path, tmp_path: Path) -> None:
    pipe = tmp_path / "killable.yaml"
    pipe.write_text(KILLABLE_PIPELINE)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    Pipeline.from_yaml(pipe).run(sample_dir, clean, workers=2)
    base = [*CURATE, "run", str(pipe), "--input", str(sample_dir), "--output",
            str(crashed), "--executor", "ray", "--workers", "2", "--quiet"]
    env = env_with_repo()
    driver = subprocess.Popen(base, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree: list = []
    try:
        deadline = time.time() + 180
        while time.time() < deadline and driver.poll() is None:
            tree = descendants(driver.pid) or tree
            if len(list(crashed.glob(f"{layout.WORK}/units/*/done/*.json"))) >= 3:
                break
            time.sleep(0.05)
        assert driver.poll() is None, driver.stderr.read().decode()
        tree = descendants(driver.pid) or tree
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        kill_tree(tree)  # Ray's node processes and workers that the killed driver started
    assert not (crashed / "_SUCCESS").exists()
    done_before = len(list(crashed.glob(f"{layout.WORK}/units/*/done/*.json")))
    assert 3 <= done_before < len(list(clean.glob(f"{layout.WORK}/units/*/done/*.json")))  # killed midway
    resumed = subprocess.run([*base, "--resume", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["docs_out"] > 0  # stdout stays pure JSON with Ray
    assert_same_run(clean, crashed)


@pytest.mark.slow
def test_joining_a_running_cluster_by_address(sample_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = env_with_repo()  # a cluster node must be able to import curate (and custom stages)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # a private temp dir (short: it holds Unix sockets), so that the head's session files and its
    # `ray_current_cluster` record stay out of /tmp/ray, where plain ray.init() would find them
    temp_dir = tempfile.mkdtemp(prefix="curate-ray-")
    nodes: list[subprocess.Popen] = []
    tree: list = []
    try:
        nodes.append(ray_node(["--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", temp_dir],
                              env, tmp_path, cpus=2))
        tree = descendants(nodes[0].pid)
        local = tmp_path / "local"
        Pipeline.from_yaml(PIPELINES / "foundation.yaml").run(sample_dir, local, workers=2)
        joined = subprocess.run([*CURATE, "run", str(PIPELINES / "foundation.yaml"), "--input", str(sample_dir),
                                 "--output", str(tmp_path / "joined"), "--executor", "ray",
                                 "--ray-address", f"127.0.0.1:{port}", "--quiet"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert joined.returncode == 0, joined.stderr
        assert_same_run(local, tmp_path / "joined")
        assert nodes[0].poll() is None  # the driver left the cluster running
    finally:
        stop_nodes(nodes, tree)
        shutil.rmtree(temp_dir, ignore_errors=True)
