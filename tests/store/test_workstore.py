"""The work store: one owner of every run path, on any pyarrow filesystem.

The default pipeline run with its OUTPUT (and so its whole work store) on fsspec's in-memory
filesystem gives the same ids per shard, the same stats and the same metadata as on local disk.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.store import layout
from curate.store.cache import cached
from curate.store.layout import WorkStore
from curate.store.state import StageStore
from tests.conftest import rejected_dir, shard_ids, work_dir


def _memory_shard_ids(root: str) -> list[list[str]]:
    fs = fsspec.filesystem("memory")
    parts = sorted(p for p in fs.ls(root, detail=False) if p.rsplit("/", 1)[-1].startswith("part-"))
    return [pq.read_table(fs.open(p, "rb"), columns=["id"]).column("id").to_pylist() for p in parts]


def test_default_pipeline_on_a_memory_filesystem_matches_local_disk(default_pipeline: Path, sample_dir: Path,
                                                                     tmp_path: Path) -> None:
    pipe = Pipeline.from_yaml(default_pipeline)
    local = pipe.run(sample_dir, tmp_path / "local", workers=1)
    in_memory = pipe.run(sample_dir, "memory://curate-test/out", workers=1)
    fs = fsspec.filesystem("memory")
    try:
        for sink in ("curated", "mixture"):
            assert _memory_shard_ids(f"/curate-test/out/{sink}") == shard_ids(tmp_path / "local", sink)
        assert sum(len(s) for s in shard_ids(tmp_path / "local", "mixture")) == local.stats["sinks"]["mixture"]["docs"] > 0
        assert [(s["stage"], s["docs_in"], s["docs_out"], s["rejected"]) for s in in_memory.stages] == \
            [(s["stage"], s["docs_in"], s["docs_out"], s["rejected"]) for s in local.stages]
        for node, name in (("quality_buckets", "buckets.json"), ("sample", "plan.json")):
            assert json.loads(fs.cat(f"/curate-test/out/{layout.META}/{node}/{name}")) == json.loads(
                (tmp_path / "local" / layout.META / node / name).read_text())
        assert fs.exists("/curate-test/out/_SUCCESS") and fs.exists(f"/curate-test/out/{layout.META}/sample/plan.png")
        rejected = sorted(fs.ls(f"/curate-test/out/{layout.REJECTED}", detail=False))
        assert [r.rsplit("/", 1)[-1] for r in rejected] == sorted(p.name for p in (rejected_dir(tmp_path / "local")).iterdir())
        # nothing of the run was written to local disk but DuckDB's scratch
        assert not Path("memory:").exists() and not (Path.cwd() / "curate-test").exists()
    finally:
        fs.rm("/curate-test", recursive=True)


def test_resume_on_a_memory_filesystem_skips_finished_work(sample_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    pipe = Pipeline("p").add("normalize").add("exact_dedup")
    first = pipe.run(sample_dir, "memory://curate-resume/out", workers=1)
    fs = fsspec.filesystem("memory")
    try:
        fs.rm(f"/curate-resume/out/{layout.DEFAULT_SINK}/part-00001.parquet")
        fs.rm(f"/curate-resume/out/{layout.WORK}/units/exact_dedup/done/part-00001.json")
        fs.rm("/curate-resume/out/_SUCCESS")
        with caplog.at_level(logging.INFO, logger="curate"):
            again = pipe.run(sample_dir, "memory://curate-resume/out", workers=1, resume=True)
        logs = [r.getMessage() for r in caplog.records]
        assert "combine exact_dedup: done, skipped" in logs
        assert any("(1 task(s))" in m for m in logs)  # only the task whose shard went missing
        assert again.stats["docs_out"] == first.stats["docs_out"]
    finally:
        fs.rm("/curate-resume", recursive=True)


def test_stage_state_is_per_task_and_cached_one_task_at_a_time(tmp_path: Path) -> None:
    store = StageStore(WorkStore.open(tmp_path / "out"), "node")
    batches = pa.table({"task": [0, 0, 2], "row": [0, 1, 0], "keep": [True, False, True]}).to_batches(max_chunksize=2)
    store.write_tasks_from(batches, n_tasks=3)
    assert store.read_task(0).to_pylist() == [{"row": 0, "keep": True}, {"row": 1, "keep": False}]
    assert store.read_task(1) is None  # no rows, no file
    assert store.read_task(2).column("row").to_pylist() == [0]
    assert sorted(p.name for p in (work_dir(tmp_path / "out") / "stages" / "node" / "state").iterdir()) == \
        ["task-00000.parquet", "task-00002.parquet"]
    loads = []
    cached("k1", lambda: loads.append(1), slot="s")
    cached("k1", lambda: loads.append(1), slot="s")
    cached("k2", lambda: loads.append(2), slot="s")
    assert loads == [1, 2]


def test_reset_state_wipes_state_and_scratch(tmp_path: Path) -> None:
    store = StageStore(WorkStore.open(tmp_path / "out"), "node")
    store.write_json("x", {"a": 1})
    store.scratch.mkdir(parents=True)
    (store.scratch / "leftover").write_text("stale")
    store.reset_state()
    assert not (store.scratch / "leftover").exists()
    assert not store.files.exists(f"{store.base}/state/x.json")


def test_unknown_scheme_is_a_config_error(sample_dir: Path) -> None:
    from curate.errors import ConfigError

    with pytest.raises(ConfigError, match="unsupported storage scheme 'nosuch://'"):
        Pipeline("p").add("passthrough").run(sample_dir, "nosuch://bucket/out", workers=1)


def test_memory_output_needs_an_in_process_executor(sample_dir: Path) -> None:
    from curate.errors import ConfigError

    with pytest.raises(ConfigError, match="lives in this process's memory.*--workers 1"):
        Pipeline("p").add("passthrough").run(sample_dir, "memory://curate-two/out", workers=2)


@pytest.mark.parametrize("uri", ["local", "memory://accepted-tasks-test"])
def test_finished_tasks_are_found_with_one_listing_not_a_lookup_per_task(tmp_path: Path, uri: str) -> None:
    """A pass asks which of its tasks are done with one listing of the unit's done folder, then
    reads only the markers found (issue 33: a lookup per task is a request per task on S3);
    markers another run left, and other files, are not accepted."""
    store = WorkStore.open(tmp_path / "out" if uri == "local" else uri)
    store.run_id = "this-run"
    for task in (0, 3, 7):
        store.write_marker(store.done_marker("unit", task), {"rows": task})
    store.files.write_json(store.done_marker("unit", 5), {"rows": 5, layout.RUN: "another-run"})
    store.files.write_bytes(f"{store.done_dir('unit')}/notes.txt", b"not a marker")

    calls: list[str] = []
    inner = store.files.fs

    class Counting:  # the store's filesystem, counting every call made on it
        def __getattr__(self, name):
            attr = getattr(inner, name)

            def counted(*args, **kwargs):
                calls.append(name)
                return attr(*args, **kwargs)
            return counted if callable(attr) else attr

    store.files.fs = Counting()
    found = store.accepted_tasks("unit")
    store.files.fs = inner
    assert {t: d["rows"] for t, d in found.items()} == {0: 0, 3: 3, 7: 7}
    assert calls.count("get_file_info") == 1  # the listing
    assert calls.count("open_input_stream") == 4  # the four markers, no lookup for the absent tasks
    assert WorkStore.open(tmp_path / "elsewhere").accepted_tasks("unit") == {}  # no folder yet


def test_hashes_primed_by_the_workers_cost_the_driver_a_stat_not_a_read(tmp_path: Path, monkeypatch) -> None:
    """The resume fingerprint's input hashes are computed by the executor's workers (issue 33:
    the driver hashed every input byte alone); the driver keeps what they computed, so its own
    content_hash of an unchanged file (the check when the run ends) reads nothing, and a file
    changed since is read and hashed again."""
    import xxhash

    from curate.store import hashes
    from curate.store.storage import Storage

    files = []
    for i in range(3):
        f = tmp_path / f"f{i}.jsonl"
        f.write_bytes(b'{"id": "%d", "text": "x"}\n' % i * (i + 1))
        files.append(str(f))
    storage = Storage()
    mapped = []

    def workers_map(fn, items):  # an executor's ordered map, recording what it was given
        mapped.extend(items)
        return [fn(item) for item in items]

    hashes.prime_hashes(files + files[:1], storage, workers_map)
    assert [p for p, _ in mapped] == files  # each file once

    def no_reading(*args, **kwargs):
        raise AssertionError("the driver read a file the workers hashed")

    monkeypatch.setattr(Storage, "open_input_stream", no_reading)
    for f in files:
        assert hashes.content_hash(f, storage) == xxhash.xxh3_128(Path(f).read_bytes()).hexdigest()
    Path(files[1]).write_bytes(b'{"id": "changed", "text": "y"}\n')
    with pytest.raises(AssertionError, match="the driver read"):
        hashes.content_hash(files[1], storage)
