"""Shared fixtures: the bundled sample corpus, small hand-made shards, output readers."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.store import layout

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
PIPELINES = ROOT / "pipelines"
CURATE = [sys.executable, "-m", "curate.cli.__main__"]


@pytest.fixture()
def sample_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled 2,000-document sample (tests may add files to it)."""
    dst = tmp_path / "sample"
    shutil.copytree(SAMPLE, dst, ignore=shutil.ignore_patterns("*.md"))
    return dst


def write_parquet(path: Path, rows: dict, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path, row_group_size=row_group_size)
    return path


def data_dir(out: Path) -> Path:
    """The default sink of a run without ``outputs:`` (OUTPUT/data/)."""
    return out / layout.DEFAULT_SINK


def read_output(out: Path, sink: str = layout.DEFAULT_SINK) -> pa.Table:
    """All part-*.parquet shards of a sink (default: the sink of a run without ``outputs:``), in
    shard order."""
    parts = sorted((out / sink).glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")


def read_stats(out: Path) -> dict:
    """A finished run's stats (OUTPUT/_curate/stats.json)."""
    import json

    return json.loads((out / layout.STATS).read_text())


def read_errors(out: Path) -> list[dict]:
    """The rows and files a run skipped (OUTPUT/_curate/errors.jsonl)."""
    import json

    return [json.loads(line) for line in (out / layout.ERRORS).read_text().splitlines()]


def rejected_dir(out: Path, node: str = "") -> Path:
    """Where the rows `node` rejected are kept (all nodes' without one)."""
    return out / layout.REJECTED / node if node else out / layout.REJECTED


def work_dir(out: Path) -> Path:
    """The run's work folder (streams, done markers, stage state, the manifest)."""
    return out / layout.WORK


def sink_dirs(out: Path) -> dict[str, Path]:
    """Every sink of a finished run (from its stats): name -> folder."""
    return {name: out / name for name in sorted(read_stats(out)["sinks"])}


def meta_file(out: Path, name: str) -> Path:
    """The one run metadata file `name` under OUTPUT/_curate/meta/<node>/ (buckets.json, plan.json)."""
    found = sorted(out.glob(f"{layout.META}/*/{name}"))
    assert len(found) == 1, found
    return found[0]


def shard_ids(out: Path, sink: str = layout.DEFAULT_SINK) -> list[list[str]]:
    """The ids of each shard of a sink (default: the sink of a run without ``outputs:``), in
    order: the determinism contract."""
    return [pq.read_table(p, columns=["id"]).column("id").to_pylist() for p in sorted((out / sink).glob("part-*.parquet"))]


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's syntax: 256k, 16m) mounted at `path` while the block runs; the
    test is skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"environment: cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def env_with_repo() -> dict:
    """Environment for `curate` subprocesses that can import test-only stages from tests/."""
    env = dict(os.environ)
    # no empty entry: it would mean the working directory, which a test may have deleted
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="session")
def default_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pipelines/default.yaml with its model paths pointed at small demo models trained here."""
    import yaml

    from curate.train_models import train_all

    models = tmp_path_factory.mktemp("models")
    train_all(models, n_web=1000, n_reference=500, n_per_language=50)
    path = with_models(PIPELINES / "default.yaml", models)
    assert yaml.safe_load(path.read_text())["stages"][4]["params"]["model"].startswith(str(models))
    return path


def with_models(pipeline: Path, models: Path) -> Path:
    """A copy of `pipeline` (in `models`) with every stage's model path pointed into `models`."""
    import yaml

    spec = yaml.safe_load(pipeline.read_text())
    for stage in spec["stages"]:
        params = stage.get("params") or {}
        if "model" in params:
            params["model"] = str(models / Path(params["model"]).name)
    path = models / pipeline.name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def local_ray():
    """One private local Ray with 2 CPUs for a whole module; RayExecutor reuses it."""
    ray = pytest.importorskip("ray")
    from curate.executors.ray import start_local_ray

    if ray.is_initialized():
        ray.shutdown()
    start_local_ray(2)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API server (moto's) on loopback in a subprocess, for the whole session; the AWS
    environment (dummy credentials, AWS_ENDPOINT_URL) points this process and its children at it.
    Yields the endpoint URL."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    from bench.common import s3_server as moto_server

    with moto_server(credential="testing") as url:
        yield url


@pytest.fixture()
def s3_bucket(s3_server: str, request: pytest.FixtureRequest) -> str:
    """A new empty bucket for one test: its name."""
    import re

    import s3fs

    name = "t-" + re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{os.getpid()}"
    s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True).mkdir(name)
    return name


# --------------------------------------------------------------------------- markers and skips
# What `make test-fast` leaves out, by folder and by fixture (tests elsewhere that kill processes
# or compare with another library carry the marker themselves).
_BY_FOLDER = {"faults": "faults"}
_BY_FIXTURE = {"local_ray": "ray", "s3_server": "s3", "s3_bucket": "s3"}
STRICT_ENV = "CURATE_TEST_STRICT"  # set by `make test`: a test that cannot run fails instead of skipping
ALLOWED_SKIP = "environment:"  # a skip whose reason starts so is the machine's, not a missing dependency


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in _BY_FOLDER:
            item.add_marker(_BY_FOLDER[folder])
        if folder == "clusters":
            item.add_marker("s3" if "s3" in Path(str(item.fspath)).stem else "ray")
        for fixture, marker in _BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def _strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def _fail_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Under CURATE_TEST_STRICT, turn a skip (a missing extra, an unreachable registry) into a
    failure that says why, unless the reason is the machine's (ALLOWED_SKIP)."""
    if not (_strict() and report.skipped) or isinstance(report.longrepr, str) or hasattr(report, "wasxfail"):
        return  # an expected failure (xfail) is reported as skipped too: it stays what it is
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if reason.removeprefix("Skipped: ").startswith(ALLOWED_SKIP):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped under make test ({STRICT_ENV}=1), which runs every test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    outcome = yield
    _fail_skip(outcome.get_result())
