"""Runs on an object store: a real S3 API server (moto's, on loopback in a subprocess, see the
`s3_server` fixture) holding the input and the output.

Checked: the default pipeline s3 to s3 gives the same ids per shard as on local disk and writes
nothing under the current directory; kill -9 mid-run then --resume equals the clean run; kill -9
during a multipart upload leaves no object under the final name; --on-error skip lists hostile
remote shards by URI; a nested prefix is discovered in the same task order as a local copy; of
two runs claiming one output, one is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.io import read as reader
from curate.pipeline.ownership import claim
from curate.store import layout
from curate.store.layout import WorkStore, part_path, top_names
from curate.store.shards import ShardWriter
from curate.store.storage import Storage
from tests.clusters.loopback import (
    assert_same_run,
    descendants,
    free_port,
    models_on_s3,
    ray_node,
    s3_view,
    stop_nodes,
    upload,
)
from tests.conftest import (
    ROOT,
    SAMPLE,
    env_with_repo,
    read_output,
    rejected_dir,
    shard_ids,
    work_dir,
)

s3fs = pytest.importorskip("s3fs")
pytest.importorskip("moto")


def _s3_shard_ids(fs, prefix: str) -> list[list[str]]:
    parts = sorted(p for p in fs.ls(prefix, detail=False) if p.rsplit("/", 1)[-1].startswith("part-"))
    return [pq.read_table(fs.open(p, "rb"), columns=["id"]).column("id").to_pylist() for p in parts]


@pytest.fixture(scope="module")
def local_default_run(default_pipeline: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    Pipeline.from_yaml(default_pipeline).run(SAMPLE, out, workers=2)
    return out


def test_default_pipeline_s3_to_s3_matches_local_disk_and_writes_nothing_under_cwd(
        default_pipeline: Path, local_default_run: Path, s3_server: str, s3_bucket: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fs = s3_view(s3_server)
    upload(fs, SAMPLE, f"{s3_bucket}/in")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = Pipeline.from_yaml(default_pipeline).run(f"s3://{s3_bucket}/in", f"s3://{s3_bucket}/out", workers=2)
    assert list(cwd.iterdir()) == []  # nothing of the run under the current directory
    for sink in ("curated", "mixture"):
        assert _s3_shard_ids(fs, f"{s3_bucket}/out/{sink}") == shard_ids(local_default_run, sink)
    assert result.stats["sinks"]["mixture"]["docs"] == sum(len(s) for s in shard_ids(local_default_run, "mixture")) > 0
    for name in ("quality_buckets/buckets.json", "sample/plan.json"):
        assert json.loads(fs.cat(f"{s3_bucket}/out/{layout.META}/{name}")) == json.loads(
            (local_default_run / layout.META / name).read_text())
    assert fs.exists(f"{s3_bucket}/out/_SUCCESS") and fs.exists(f"{s3_bucket}/out/{layout.MARKER}")
    assert not fs.exists(f"{s3_bucket}/out/{layout.LEASE}")  # released
    rejected = sorted(p.rsplit("/", 1)[-1] for p in fs.find(f"{s3_bucket}/out/{layout.REJECTED}"))
    assert rejected == sorted(p.name for p in (rejected_dir(local_default_run)).rglob("*.parquet"))
    # no temporary names on the store: every object was written under its final name
    assert not [p for p in fs.find(f"{s3_bucket}/out") if p.rsplit("/", 1)[-1].startswith(".")]
    manifest = fs.cat(f"{s3_bucket}/out/{layout.WORK}/manifest.json").decode()
    assert "testing" not in manifest and "endpoint" not in manifest  # no credentials, no options
    # the verbs that read a finished run read it on the store too; here the endpoint comes from
    # --storage-option, not from the environment
    no_endpoint = {k: v for k, v in env_with_repo().items() if k != "AWS_ENDPOINT_URL"}
    endpoint = ["--storage-option", f"endpoint_url={s3_server}"]
    stats = subprocess.run([sys.executable, "-m", "curate.cli", "stats", f"s3://{s3_bucket}/out", *endpoint],
                           cwd=ROOT, env=no_endpoint, capture_output=True, text=True, timeout=120)
    assert stats.returncode == 0, stats.stderr
    assert "mixture" in stats.stdout and "<- sample" in stats.stdout
    shown = subprocess.run([sys.executable, "-m", "curate.cli", "plan", "--from-plan",
                            f"s3://{s3_bucket}/out", "--json", *endpoint], cwd=ROOT,
                           env=no_endpoint, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["buckets"] == json.loads(
        (local_default_run / layout.META / "sample" / "plan.json").read_text())["buckets"]


def test_kill_9_mid_run_then_resume_on_s3_equals_a_clean_run(default_pipeline: Path, local_default_run: Path,
                                                             s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    fs = s3_view(s3_server)
    upload(fs, SAMPLE, f"{s3_bucket}/in")
    args = [sys.executable, "-m", "curate.cli", "run", str(default_pipeline), "--input", f"s3://{s3_bucket}/in",
            "--output", f"s3://{s3_bucket}/out", "--workers", "2", "--quiet"]
    env = {**env_with_repo(), "CURATE_FAULT": "task_done:6", "CURATE_FAULT_DIR": str(tmp_path)}
    crashed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                             start_new_session=True)
    assert crashed.returncode == -9, crashed.stderr
    assert not fs.exists(f"{s3_bucket}/out/_SUCCESS")
    for part in fs.find(f"{s3_bucket}/out"):
        if part.endswith(".parquet"):  # every visible object is a complete file
            pq.read_metadata(fs.open(part, "rb"))
    env.pop("CURATE_FAULT")
    resumed = subprocess.run([*args, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    for sink in ("curated", "mixture"):
        assert _s3_shard_ids(fs, f"{s3_bucket}/out/{sink}") == shard_ids(local_default_run, sink)


_SLOW_UPLOAD = """
import sys, time
from curate.store.layout import WorkStore
store = WorkStore.open(sys.argv[1])
up = store.files.upload(store.root + "/big.bin")
for i in range(100):
    up.stream.write(bytes([i % 251]) * (1 << 20))
    time.sleep(0.05)
up.commit()
"""


def test_kill_9_during_a_multipart_upload_leaves_no_object(s3_server: str, s3_bucket: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_UPLOAD, f"s3://{s3_bucket}/out"], cwd=ROOT,
                            env=env_with_repo())
    try:
        deadline = time.time() + 60
        parts = 0
        while parts < 2 and time.time() < deadline:  # two parts uploaded: well inside the multipart upload
            uploads = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
            if uploads:
                parts = len(client.list_parts(Bucket=s3_bucket, Key=uploads[0]["Key"],
                                              UploadId=uploads[0]["UploadId"]).get("Parts", []))
            time.sleep(0.1)
        assert parts >= 2 and proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_a_failed_write_aborts_its_upload(s3_server: str, s3_bucket: str) -> None:
    store = WorkStore.open(f"s3://{s3_bucket}/out")
    writer = ShardWriter(store.files, part_path(store.sink_dir("data"), 0))
    writer.write(pa.table({"id": [str(i) for i in range(200_000)], "text": ["x" * 64] * 200_000}))
    writer.abort()
    with pytest.raises(RuntimeError), store.files.output(store.meta("sample", "plan.json")) as out:
        out.write(b"{}" * (6 << 20))  # more than one part
        raise RuntimeError("stage failed")
    fs = s3_view(s3_server)
    assert fs.find(s3_bucket) == []
    import boto3

    assert not boto3.client("s3", endpoint_url=s3_server).list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def _hostile_input(root: Path) -> None:
    good = pa.table({"id": ["a", "b", "c"], "text": ["one good text", "two good text", "three good text"]})
    (root / "a").mkdir(parents=True)
    pq.write_table(good, root / "a" / "good.parquet")
    (root / "a" / "broken.parquet").write_bytes(b"PAR1 this is not a parquet file")
    (root / "b").mkdir()
    (root / "b" / "rows.jsonl").write_text('{"id": "j1", "text": "fine"}\n{"id": "j2", "text": \n'
                                           '{"id": "j3", "text": "also fine"}\n')


def test_on_error_skip_lists_hostile_remote_shards_by_uri(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    _hostile_input(tmp_path / "in")
    fs = s3_view(s3_server)
    upload(fs, tmp_path / "in", f"{s3_bucket}/in")
    result = Pipeline("p").add("normalize").run(f"s3://{s3_bucket}/in", f"s3://{s3_bucket}/out", workers=1,
                                                 on_error="skip")
    errors = [json.loads(line) for line in fs.cat(f"{s3_bucket}/out/{layout.ERRORS}").decode().splitlines()]
    assert {(e["file"], e["row"]) for e in errors} == {(f"s3://{s3_bucket}/in/a/broken.parquet", None),
                                                       (f"s3://{s3_bucket}/in/b/rows.jsonl", 1)}
    assert result.stats["docs_out"] == 5
    # under --on-error fail the same input stops at the first, naming the URI and the row
    with pytest.raises(Exception, match=rf"s3://{s3_bucket}/in/a/broken.parquet"):
        Pipeline("p").add("normalize").run(f"s3://{s3_bucket}/in", f"s3://{s3_bucket}/out2", workers=1)


def test_a_nested_remote_prefix_is_discovered_in_the_order_of_its_local_copy(s3_server: str, s3_bucket: str,
                                                                             tmp_path: Path) -> None:
    local = tmp_path / "in"
    for rel in ("b/z.jsonl", "a/y/2.parquet", "a/y/10.parquet", "a/x.parquet", "a-b.parquet", "_skip/q.parquet",
                ".hidden.parquet", "c/readme.txt"):
        path = local / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".parquet"):
            pq.write_table(pa.table({"id": [rel], "text": ["t"]}), path)
        else:
            path.write_text('{"id": "z", "text": "t"}\n')
    upload(s3_view(s3_server), local, f"{s3_bucket}/deep/in")
    warnings: list[str] = []
    remote = reader.discover(f"s3://{s3_bucket}/deep/in", warn=warnings.append, storage=Storage())
    here = reader.discover(local)
    prefix = f"s3://{s3_bucket}/deep/in/"
    assert [rel[len(prefix):] for _, rel in remote] == [rel for _, rel in here]
    assert len(warnings) == 1 and "readme.txt" in warnings[0]
    tasks = reader.plan_tasks(remote, storage=Storage())
    assert [t.rel for t in tasks] == [rel for _, rel in remote]


def test_two_runs_on_one_s3_output_one_is_refused(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/out"
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def run() -> None:
        store = WorkStore.open(uri)
        start.wait()
        try:
            lease = claim(store, str(tmp_path), resume=False, overwrite=False, names=top_names([layout.DEFAULT_SINK]))
        except ConfigError as exc:
            outcomes.append(f"refused: {exc}")
            return
        outcomes.append("claimed")
        time.sleep(1.0)  # hold it while the other one tries
        lease.release()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["claimed", "refused"], outcomes
    # and a whole run against an output whose lease is live is refused, naming the holder
    holder = claim(WorkStore.open(uri), str(tmp_path), resume=True, overwrite=False, names=top_names([layout.DEFAULT_SINK]))
    try:
        with pytest.raises(ConfigError, match="in use by another curate run"):
            Pipeline("p").add("normalize").run(SAMPLE, uri, workers=1, resume=True)
    finally:
        holder.release()


def test_remote_stage_files_and_pipeline_yaml(default_pipeline: Path, local_default_run: Path, s3_server: str,
                                             s3_bucket: str, tmp_path: Path) -> None:
    """Models and the pipeline YAML on the store too: the run reads them from there."""
    import yaml

    fs = s3_view(s3_server)
    spec = models_on_s3(fs, default_pipeline, s3_bucket)
    fs.pipe(f"{s3_bucket}/default.yaml", yaml.safe_dump(spec, sort_keys=False).encode())
    shutil.copytree(SAMPLE, tmp_path / "in", ignore=shutil.ignore_patterns("*.md"))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "curate.cli", "run", f"s3://{s3_bucket}/default.yaml", "--input",
                        str(tmp_path / "in"), "--output", str(out), "--workers", "2", "--quiet"], cwd=ROOT,
                       env=env_with_repo(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert shard_ids(out, "mixture") == shard_ids(local_default_run, "mixture")
    manifest = json.loads((work_dir(out) / "manifest.json").read_text())
    tags = {k: v for k, v in manifest["stage_files"].items() if k.endswith(f"s3://{s3_bucket}/models/quality.bin")}
    assert len(tags) == 1 and next(iter(tags.values())).startswith("ETag:")  # the store's tag, not a re-read


def test_a_changed_remote_input_makes_resume_refuse(s3_server: str, s3_bucket: str) -> None:
    fs = s3_view(s3_server)
    upload(fs, SAMPLE, f"{s3_bucket}/in")
    pipe = Pipeline("p").add("normalize")
    pipe.run(f"s3://{s3_bucket}/in", f"s3://{s3_bucket}/out", workers=1)
    fs.rm(f"{s3_bucket}/out/_SUCCESS")
    table = pq.read_table(fs.open(f"{s3_bucket}/in/shard-00001.parquet", "rb"))
    with fs.open(f"{s3_bucket}/in/shard-00001.parquet", "wb") as f:
        pq.write_table(table.slice(1), f)
    with pytest.raises(ConfigError, match="shard-00001.parquet changed"):
        pipe.run(f"s3://{s3_bucket}/in", f"s3://{s3_bucket}/out", workers=1, resume=True)


@pytest.mark.slow
@pytest.mark.ray
def test_default_pipeline_on_a_three_node_ray_cluster_without_shared_disk(
        default_pipeline: Path, local_default_run: Path, s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    """A head and two workers on loopback, each with its own temp dir; input, output, models and
    the pipeline YAML on S3; the driver's working directory is deleted before the driver starts,
    so nothing it does (joining the cluster included) can depend on that directory."""
    pytest.importorskip("ray")
    import tempfile

    import yaml

    fs = s3_view(s3_server)
    upload(fs, SAMPLE, f"{s3_bucket}/in")
    fs.pipe(f"{s3_bucket}/default.yaml",
            yaml.safe_dump(models_on_s3(fs, default_pipeline, s3_bucket), sort_keys=False).encode())
    # a private cluster on loopback: no token authentication (Ray would otherwise share one token
    # file in ~/.ray between every cluster on the machine, and drivers would need RAY_AUTH_MODE)
    env = {**env_with_repo(), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    port = free_port()
    nodes: list[subprocess.Popen] = []
    temp_dirs = [tempfile.mkdtemp(prefix=f"curate-ray{i}-") for i in range(3)]  # short: Unix sockets
    tree: list = []
    try:
        nodes.append(ray_node(["--head", "--port", str(port), "--include-dashboard", "false",
                                "--temp-dir", temp_dirs[0]], env, tmp_path))
        for i in (1, 2):
            nodes.append(ray_node(["--address", f"127.0.0.1:{port}", "--temp-dir", temp_dirs[i],
                                    "--dashboard-agent-listen-port", str(free_port()),
                                    "--metrics-export-port", str(free_port())], env, tmp_path))
        tree = [p for n in nodes for p in descendants(n.pid)]
        driver_cwd = tmp_path / "driver"
        driver_cwd.mkdir()
        # the shell removes its own directory, then becomes the driver: deleted at a fixed point
        # (before curate starts), not at a moment that races the run
        driver = subprocess.run(["sh", "-c", 'rmdir "$PWD" && exec "$@"', "sh", sys.executable, "-m", "curate.cli",
                                 "run", f"s3://{s3_bucket}/default.yaml", "--input", f"s3://{s3_bucket}/in",
                                 "--output", f"s3://{s3_bucket}/out", "--executor", "ray",
                                 "--ray-address", f"127.0.0.1:{port}", "--quiet"],
                                cwd=driver_cwd, env={**env, "CURATE_DEBUG": "1"}, capture_output=True, text=True,
                                timeout=900)
        assert not driver_cwd.exists()
        assert driver.returncode == 0, driver.stderr
        got = tmp_path / "got"
        fs.get(f"{s3_bucket}/out/", str(got), recursive=True)
        assert_same_run(local_default_run, got)
    finally:
        stop_nodes(nodes, tree)
        for d in temp_dirs:
            shutil.rmtree(d, ignore_errors=True)


def test_compressed_jsonl_and_csv_read_from_s3_as_from_local_disk(s3_server: str, s3_bucket: str,
                                                                  tmp_path: Path) -> None:
    """JSON Lines (gzip, zstd) stream from the store; CSV goes through a copy in --scratch."""
    import gzip

    import zstandard

    local = tmp_path / "in"
    local.mkdir()
    lines = "".join(f'{{"id": "g{i}", "text": "gzip line {i}"}}\n' for i in range(50))
    (local / "a.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    (local / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.replace('"g', '"z').encode()))
    (local / "c.csv").write_text("id,text\n" + "".join(f"c{i},csv row {i}\n" for i in range(30)))
    upload(s3_view(s3_server), local, f"{s3_bucket}/in")
    scratch = tmp_path / "scratch"
    pipe = Pipeline("p").add("normalize")
    remote = pipe.run(f"s3://{s3_bucket}/in", tmp_path / "from-s3", workers=1, scratch=str(scratch))
    here = pipe.run(local, tmp_path / "from-disk", workers=1)
    assert shard_ids(tmp_path / "from-s3") == shard_ids(tmp_path / "from-disk")
    assert remote.stats["docs_out"] == here.stats["docs_out"] == 130
    assert [p.name for p in scratch.rglob("*.csv")] == ["c.csv"]  # only the CSV needed a local copy


def test_plan_bad_words_and_benchmark_files_on_s3_give_the_local_result(s3_server: str, s3_bucket: str,
                                                                        tmp_path: Path) -> None:
    """The sampler's plan, c4_clean's bad-words list and a decontamination benchmark read from the
    store give what the same files on disk give."""
    fs = s3_view(s3_server)
    words = [f"word{i}" for i in range(40)]
    texts = ["\n".join(" ".join(words[j: j + 6]) + "." for j in range(i % 7, i % 7 + 30, 6))
             + ("\nThe casino is open all night." if i % 5 == 0 else "") for i in range(60)]
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(60)], "text": texts,
                             "quality_bucket": ["high" if i % 2 else "low" for i in range(60)]}), src / "a.parquet")
    files = {"plan.json": json.dumps({"buckets": [{"name": "high", "epochs": 2.0}, {"name": "low", "epochs": 0.5}]}),
             "bad.txt": "casino\n", "bench.txt": " ".join(words[28:36]) + "."}
    local = tmp_path / "files"
    local.mkdir()
    for name, text in files.items():
        (local / name).write_text(text)
        fs.pipe(f"{s3_bucket}/files/{name}", text.encode())

    def pipe(where: str) -> Pipeline:
        return (Pipeline("files").add("c4_clean", bad_words=f"{where}/bad.txt")
                .add("decontaminate", benchmarks={"quiz": f"{where}/bench.txt"}, ngram=8)
                .add("token_count").add("sample", plan=f"{where}/plan.json", fraction_by="random"))

    pipe(str(local)).run(src, tmp_path / "disk", workers=1, keep_rejected=True)
    pipe(f"s3://{s3_bucket}/files").run(src, tmp_path / "store", workers=1, keep_rejected=True)
    assert shard_ids(tmp_path / "store") == shard_ids(tmp_path / "disk")
    assert sum(len(s) for s in shard_ids(tmp_path / "disk")) > 0
    for node in ("c4_clean", "decontaminate", "sample"):
        assert shard_ids(tmp_path / "store", f"{layout.REJECTED}/{node}") == shard_ids(tmp_path / "disk", f"{layout.REJECTED}/{node}")
        assert shard_ids(tmp_path / "disk", f"{layout.REJECTED}/{node}"), node  # each file rejected something



def _rejected_reasons(out: Path, node: str) -> dict[str, str]:
    """id -> reject reason of what `node` rejected in the run at `out`."""
    rows = pq.read_table(rejected_dir(out, node), columns=["id", "reject_reason"]).to_pylist()
    return {r["id"]: r["reject_reason"] for r in rows}


def test_a_benchmark_directory_on_s3_decontaminates_as_its_local_copy(s3_server: str, s3_bucket: str,
                                                                      tmp_path: Path) -> None:
    """A benchmark given as a remote prefix is searched recursively as a local directory is (names
    starting with . or _ skipped); the fingerprint names each of its objects by URI and ETag."""
    import gzip

    words = [f"w{i}" for i in range(200)]
    passage = [" ".join(words[k * 20: k * 20 + 20]) for k in range(4)]
    bench = tmp_path / "bench"
    (bench / "nested" / "deeper").mkdir(parents=True)
    (bench / "a.txt").write_text(passage[0])
    (bench / "nested" / "b.jsonl.gz").write_bytes(gzip.compress(json.dumps({"text": passage[1]}).encode() + b"\n"))
    pq.write_table(pa.table({"text": [passage[2]]}), bench / "nested" / "deeper" / "c.parquet")
    (bench / "nested" / "_skipped.txt").write_text(passage[3])  # skipped by name, locally and remotely
    (bench / "notes.md").write_text(passage[3])  # not a benchmark format
    fs = s3_view(s3_server)
    upload(fs, bench, f"{s3_bucket}/bench")
    texts = [f"intro {p} outro" for p in passage] + ["nothing shared here"]
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}), src / "a.parquet")

    def run(where: str, out: Path) -> dict[str, str]:
        Pipeline("p").add("decontaminate", benchmarks={"quiz": where}, ngram=8).run(
            src, out, workers=1, keep_rejected=True)
        return _rejected_reasons(out, "decontaminate")

    remote = run(f"s3://{s3_bucket}/bench", tmp_path / "store")
    assert remote == run(str(bench), tmp_path / "disk") == {f"d{i}": "decontaminate:quiz" for i in range(3)}
    files = json.loads((work_dir(tmp_path / "store") / "manifest.json").read_text())["stage_files"]
    assert sorted(files) == [f"decontaminate: s3://{s3_bucket}/bench/{rel}"
                             for rel in ("a.txt", "nested/b.jsonl.gz", "nested/deeper/c.parquet")]
    assert all(tag.startswith("ETag:") for tag in files.values())


def test_a_ut1_block_list_folder_on_s3_blocks_as_its_local_copy(s3_server: str, s3_bucket: str,
                                                                tmp_path: Path) -> None:
    """A UT1 folder (category subfolders holding domains and urls files) as a remote prefix: its
    categories are listed through the store, the chosen ones read; so are the word lists."""
    ut1 = tmp_path / "blacklists"
    for category, domains, urls in (("adult", "badsite.com\n*.wild.org\n", "good.com/bad/page\n"),
                                    ("gambling", "casino.net\n", None), ("phishing", "phish.org\n", None)):
        (ut1 / category).mkdir(parents=True)
        (ut1 / category / "domains").write_text(domains)
        if urls:
            (ut1 / category / "urls").write_text(urls)
    (ut1 / "README").write_text("not a category")
    (tmp_path / "allow.txt").write_text("ok.badsite.com\n")
    (tmp_path / "banned.txt").write_text("xxx\n")
    fs = s3_view(s3_server)
    upload(fs, ut1, f"{s3_bucket}/lists/blacklists")
    for name in ("allow.txt", "banned.txt"):
        fs.put_file(str(tmp_path / name), f"{s3_bucket}/lists/{name}")
    urls = ["https://badsite.com/x", "https://ok.badsite.com/", "https://x.wild.org/", "https://good.com/bad/page",
            "https://casino.net/", "https://phish.org/", "https://fine.com/xxx/video", "https://fine.com/"]
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(urls))], "text": ["t"] * len(urls), "url": urls}),
                   src / "a.parquet")

    def run(lists: str, blocklist: str, out: Path) -> dict[str, str]:
        Pipeline("p").add("url_filter", blocklist=blocklist, categories=["adult", "gambling"],
                          allowlist=f"{lists}/allow.txt", banned_words=f"{lists}/banned.txt").run(
            src, out, workers=1, keep_rejected=True)
        return _rejected_reasons(out, "url_filter")

    remote = run(f"s3://{s3_bucket}/lists", f"s3://{s3_bucket}/lists/blacklists", tmp_path / "store")
    assert remote == run(str(tmp_path), str(ut1), tmp_path / "disk") == {
        "d0": "url_filter:blocklist", "d2": "url_filter:blocklist", "d3": "url_filter:blocklist",
        "d4": "url_filter:blocklist", "d6": "url_filter:banned_word"}
    files = json.loads((work_dir(tmp_path / "store") / "manifest.json").read_text())["stage_files"]
    assert sorted(files) == sorted(f"url_filter: s3://{s3_bucket}/lists/{rel}" for rel in (
        "blacklists/adult/domains", "blacklists/adult/urls", "blacklists/gambling/domains", "allow.txt",
        "banned.txt"))
    with pytest.raises(ConfigError, match=r"choose 'categories' from: adult, gambling, phishing$"):
        Pipeline("p").add("url_filter", blocklist=f"s3://{s3_bucket}/lists/blacklists").run(
            src, tmp_path / "x", workers=1)


def test_missing_remote_stage_lists_and_benchmarks_are_one_line_naming_the_uri(s3_server: str, s3_bucket: str,
                                                                               tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["t"], "url": ["https://a.com/"]}), src / "a.parquet")
    missing = f"s3://{s3_bucket}/nowhere"
    for stage, params, message in (
            ("decontaminate", {"benchmarks": {"quiz": missing}},
             f"stage 'decontaminate': benchmark 'quiz': no such file or directory: {missing}"),
            ("url_filter", {"blocklist": missing}, f"stage 'url_filter': blocklist: no such file or directory: {missing}"),
            ("url_filter", {"banned_words": f"{missing}/words.txt"},
             f"stage 'url_filter': banned_words '{missing}/words.txt' does not exist")):
        with pytest.raises(ConfigError) as err:
            Pipeline("p").add(stage, **params).run(src, tmp_path / stage, workers=1)
        assert str(err.value).endswith(message) and "\n" not in str(err.value)


def _curate(*args: str, timeout: int = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`curate ARGS` in a subprocess (the environment points s3 at the loopback server)."""
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env or env_with_repo(),
                          capture_output=True, text=True, timeout=timeout)


def _one_line_naming(r: subprocess.CompletedProcess, uri: str) -> None:
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and uri in r.stderr, r.stderr


def test_calibrate_reads_runs_buckets_and_classifier_from_s3_and_writes_law_and_plot_there(
        s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    import numpy as np

    from tests.planner.test_planner_calibrate import DATABLATIONS, mixture_rows

    local = tmp_path / "files"
    local.mkdir()
    (local / "runs.jsonl").write_text("".join(json.dumps(r) + "\n"
                                              for r in mixture_rows(DATABLATIONS, np.random.default_rng(9))))
    (local / "buckets.json").write_text(json.dumps({
        "score_column": "quality_score", "method": "thresholds", "cuts": [0.7, 0.3],
        "buckets": [{"name": n, "unique_tokens": 1e9} for n in ("high", "mid", "low")]}))
    (local / "quality.bin").write_bytes(b"model bytes")
    fs = s3_view(s3_server)
    upload(fs, local, f"{s3_bucket}/files")

    def calibrate(files: str, out: str) -> subprocess.CompletedProcess:
        return _curate("calibrate", f"{files}/runs.jsonl", "--fit", "buckets", "--reference", "high", "--bootstrap",
                       "10", "--buckets", f"{files}/buckets.json", "--classifier", f"{files}/quality.bin",
                       "--output", f"{out}/law.json", "--plot", f"{out}/residuals.png")

    remote = calibrate(f"s3://{s3_bucket}/files", f"s3://{s3_bucket}/out")
    assert remote.returncode == 0, remote.stderr
    here = calibrate(str(local), str(tmp_path / "out"))
    assert here.returncode == 0, here.stderr
    assert remote.stdout == here.stdout and f"wrote s3://{s3_bucket}/out/law.json" in remote.stderr
    assert json.loads(fs.cat(f"{s3_bucket}/out/law.json")) == json.loads((tmp_path / "out" / "law.json").read_text())
    assert fs.cat(f"{s3_bucket}/out/residuals.png").startswith(b"\x89PNG")
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(f"{s3_bucket}/out")) == ["law.json", "residuals.png"]
    # the law on the store plans as the local one does
    plans = [_curate("plan", "--buckets", f"{files}/buckets.json", "--law", f"{law}/law.json", "--compute", "1e20",
                     "--json") for files, law in ((f"s3://{s3_bucket}/files", f"s3://{s3_bucket}/out"),
                                                  (str(local), str(tmp_path / "out")))]
    assert [p.returncode for p in plans] == [0, 0], plans[0].stderr
    assert json.loads(plans[0].stdout)["buckets"] == json.loads(plans[1].stdout)["buckets"]
    for missing in (f"s3://{s3_bucket}/files/nope.jsonl", f"s3://{s3_bucket}/files/nope.bin"):
        args = [f"s3://{s3_bucket}/files/runs.jsonl", "--output", f"s3://{s3_bucket}/x.json"]
        args = [missing, *args[1:]] if missing.endswith(".jsonl") else [*args, "--classifier", missing]
        _one_line_naming(_curate("calibrate", *args), missing)
    assert not fs.exists(f"{s3_bucket}/x.json")


def test_train_classifier_and_classify_on_s3_give_the_local_model_and_scores(s3_server: str, s3_bucket: str,
                                                                             tmp_path: Path) -> None:
    """Training reads a remote prefix of shards and writes the model and its card to the store (a
    local file uploaded whole); classify reads the model and the card (its label weights) from
    there. Same bytes and scores as on local disk."""
    from curate.classifiers.train import train_classifier
    from tests.stages.test_classify import SMALL, labelled_docs

    local = tmp_path / "topics"
    (local / "part").mkdir(parents=True)
    for s in range(2):  # cook documents a quarter as common as sport ones: --balance weight weighs them
        docs = pa.table(labelled_docs(400, seed=s, id_prefix=f"s{s}-"))
        rare = pa.array([t == "sport" or i % 4 == 0 for i, t in enumerate(docs.column("topic").to_pylist())])
        pq.write_table(docs.filter(rare), local / "part" / f"shard-{s}.parquet")
    fs = s3_view(s3_server)
    upload(fs, local, f"{s3_bucket}/topics")
    trained = _curate("train-classifier", "--input", f"s3://{s3_bucket}/topics", "--label-column", "topic",
                      "--output", f"s3://{s3_bucket}/models/topic.bin", "--balance", "weight",
                      *(a for k, v in SMALL.items() for a in (f"--{k}", str(v))))
    assert trained.returncode == 0, trained.stderr
    assert f"model: s3://{s3_bucket}/models/topic.bin   card: s3://{s3_bucket}/models/topic.json" in trained.stdout
    card = train_classifier(local, "topic", tmp_path / "topic.bin", balance="weight", **SMALL)
    assert fs.cat(f"{s3_bucket}/models/topic.bin") == (tmp_path / "topic.bin").read_bytes()
    remote_card = json.loads(fs.cat(f"{s3_bucket}/models/topic.json"))
    assert remote_card["label_weights"] == card["label_weights"] and remote_card["model"] == "topic.bin"
    assert remote_card["metrics"] == card["metrics"] and remote_card["input"] == f"s3://{s3_bucket}/topics"

    scored = _curate("classify", "--input", f"s3://{s3_bucket}/topics", "--output", f"s3://{s3_bucket}/scored",
                     "--model", f"s3://{s3_bucket}/models/topic.bin", "--column", "topic_pred", "--label", "cook",
                     "--workers", "1", "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["docs_out"] == sum(pq.read_metadata(p).num_rows for p in local.rglob("*.parquet"))
    Pipeline("p").add("classify", model=str(tmp_path / "topic.bin"), column="topic_pred", label="cook").run(
        local, tmp_path / "scored", workers=1)
    parts = sorted(p for p in fs.ls(f"{s3_bucket}/scored/{layout.DEFAULT_SINK}", detail=False) if p.rsplit("/", 1)[-1].startswith("part-"))
    remote_scores = pa.concat_tables(pq.read_table(fs.open(p, "rb"), columns=["id", "topic_pred_score"]) for p in parts)
    here = read_output(tmp_path / "scored").select(["id", "topic_pred_score"])
    assert remote_scores.sort_by("id").to_pylist() == here.sort_by("id").to_pylist()
    # the weights of the card beside the remote model are applied (scoring without them differs)
    from curate.classifiers.fasttext import Classifier

    clf = Classifier.load(f"s3://{s3_bucket}/models/topic.bin")
    assert clf.weights == card["label_weights"] and clf.path == f"s3://{s3_bucket}/models/topic.bin"
    texts = pa.array(labelled_docs(20, seed=5)["text"])
    assert clf.predict(texts, "cook")[1] != Classifier(clf.model, clf.path).predict(texts, "cook")[1]

    missing = f"s3://{s3_bucket}/models/nope.bin"
    _one_line_naming(_curate("classify", "--input", f"s3://{s3_bucket}/topics", "--output", str(tmp_path / "x"),
                             "--model", missing, "--column", "c"), missing)
    missing = f"s3://{s3_bucket}/nowhere"
    _one_line_naming(_curate("train-classifier", "--input", missing, "--label-column", "topic", "--output",
                             str(tmp_path / "x.bin")), missing)
    refused = _curate("train-classifier", "--input", str(local), "--label-column", "topic", "--output",
                      "hf://datasets/someone/models/x.bin")
    assert refused.returncode == 2 and "read only" in refused.stderr and "training on" not in refused.stderr


def test_run_file_finds_the_meta_file_of_a_run_on_s3(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    """A run's OUTPUT on the store given where a plan or buckets file is expected: its metadata folder is
    listed through the store."""
    from curate.cli.common import run_file
    from curate.errors import InputError

    fs = s3_view(s3_server)
    out = f"s3://{s3_bucket}/out"
    plan = json.dumps({"buckets": [{"name": "high", "epochs": 2.0}, {"name": "low", "epochs": 0.5}]})
    fs.pipe(f"{s3_bucket}/out/{layout.META}/sample/plan.json", plan.encode())
    (tmp_path / "plan.json").write_text(plan)
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(40)], "text": [f"doc {i}" for i in range(40)],
                             "quality_bucket": ["high" if i % 2 else "low" for i in range(40)],
                             "n_tokens": [10 + i for i in range(40)]}), src / "a.parquet")
    no_endpoint = {k: v for k, v in env_with_repo().items() if k != "AWS_ENDPOINT_URL"}
    for given, where in ((out, "store"), (str(tmp_path / "plan.json"), "disk")):
        # the run's --storage-option reaches the check of --plan and the listing of its metadata folder
        r = _curate("sample", "--plan", given, "--input", str(src), "--output", str(tmp_path / where),
                    "--fraction-by", "random", "--workers", "1", "--quiet",
                    "--storage-option", f"endpoint_url={s3_server}", env=no_endpoint)
        assert r.returncode == 0, r.stderr
    assert shard_ids(tmp_path / "store") == shard_ids(tmp_path / "disk")
    assert sum(len(s) for s in shard_ids(tmp_path / "disk")) > 40  # the high bucket twice
    _one_line_naming(_curate("sample", "--plan", f"{out}/nope.json", "--input", str(src), "--output",
                             str(tmp_path / "x")), f"{out}/nope.json")
    fs.pipe(f"{s3_bucket}/out/{layout.META}/quality_buckets/buckets.json", b"{}")
    fs.pipe(f"{s3_bucket}/out/{layout.META}/quality_buckets/deeper/plan.json", b"{}")  # not a node's own file
    fs.pipe(f"{s3_bucket}/out/part-00000.parquet", b"x")
    assert run_file(out, "plan.json") == f"{out}/{layout.META}/sample/plan.json"
    assert run_file(out + "/", "buckets.json") == f"{out}/{layout.META}/quality_buckets/buckets.json"
    assert run_file(f"{out}/{layout.META}/sample/plan.json", "plan.json") == f"{out}/{layout.META}/sample/plan.json"
    fs.pipe(f"{s3_bucket}/out/{layout.META}/sample_2/plan.json", b"{}")
    with pytest.raises(InputError, match=rf"several stages wrote plan.json: .*/{layout.META}/sample/plan.json, "
                                         rf".*/{layout.META}/sample_2/plan.json"):
        run_file(out, "plan.json")
    fs.rm(f"{s3_bucket}/out/{layout.META}", recursive=True)
    with pytest.raises(InputError, match=f"^{out}: no plan.json under {layout.META}/"):
        run_file(out, "plan.json")


def test_a_file_written_to_a_uri_appears_whole_or_not_at_all(s3_server: str, s3_bucket: str) -> None:
    """atomic_path (models, cards, law.json, plots): the local file is uploaded only when the
    writer succeeds."""
    from curate.store.atomic import atomic_path

    fs = s3_view(s3_server)
    uri = f"s3://{s3_bucket}/files/model.bin"
    with pytest.raises(RuntimeError), atomic_path(uri) as tmp:
        tmp.write_bytes(b"half a model")
        raise RuntimeError("the writer failed")
    assert not fs.exists(f"{s3_bucket}/files/model.bin") and not tmp.exists()
    with atomic_path(uri) as tmp:
        tmp.write_bytes(b"x" * (9 << 20))  # more than one write of the upload
    assert fs.cat(f"{s3_bucket}/files/model.bin") == b"x" * (9 << 20) and not tmp.exists()
