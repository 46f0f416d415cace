"""What a combine's fan-out jobs use to work on any node (StageStore): local copies of store files
made on the job's own node once per run, files handed on through the store, written by tools that
write only local files (DuckDB's COPY). On an object store (here fsspec's memory filesystem, which
has no local path) and on the local disk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.store.layout import WorkStore
from curate.store.state import StageStore
from curate.store.storage import Storage


@pytest.fixture()
def remote(tmp_path: Path, request: pytest.FixtureRequest):
    """A node's store with OUTPUT in memory and its scratch under tmp_path; removed afterwards."""
    root = f"memory://curate-jobs-{request.node.name}/out"
    store = dataclasses.replace(WorkStore.open(root, Storage(scratch=str(tmp_path / "scratch"))), run_id="a-run")
    yield StageStore(store, "minhash_dedup")
    fsspec.filesystem("memory").rm(f"/curate-jobs-{request.node.name}", recursive=True)


def _write(store: StageStore, path: str, values: list[int]) -> None:
    store.files.write_table(path, pa.table({"v": pa.array(values, pa.int64())}))


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def test_local_output_uploads_what_duckdb_wrote_and_nothing_on_failure(remote: StageStore) -> None:
    path = remote.shared_file("edges/band-000.parquet")
    with remote.local_output(path) as local:
        duckdb.sql(f"COPY (SELECT range AS v FROM range(5)) TO '{local}' (FORMAT parquet)")
        written = local.read_bytes()
    assert remote.files.read_bytes(path) == written
    assert remote.files.read_table(path).column("v").to_pylist() == [0, 1, 2, 3, 4]
    failed = remote.shared_file("edges/band-001.parquet")
    with pytest.raises(RuntimeError), remote.local_output(failed) as local:
        local.write_bytes(b"half a file")
        raise RuntimeError("the query failed")
    assert not remote.files.exists(failed)
    assert _files_under(remote.scratch) == []  # the local files are gone either way


def test_local_output_on_local_disk_renames_into_place(tmp_path: Path) -> None:
    store = StageStore(WorkStore.open(tmp_path / "out"), "minhash_dedup")
    path = store.shared_file("edges/band-000.parquet")
    with store.local_output(path) as local:
        assert local.parent == Path(path).parent and local.name.startswith(".")  # a hidden sibling
        pq.write_table(pa.table({"v": [1, 2]}), local)
    assert pq.read_table(path).column("v").to_pylist() == [1, 2]
    with pytest.raises(RuntimeError), store.local_output(store.shared_file("edges/x.parquet")) as local:
        local.write_bytes(b"half")
        raise RuntimeError("failed")
    assert sorted(p.name for p in Path(path).parent.iterdir()) == ["band-000.parquet"]
    # the combine's restart removes them with the state
    store.reset_state()
    assert not Path(path).exists()


def test_local_files_are_copied_once_per_run_and_a_rerun_sees_new_content(remote: StageStore) -> None:
    paths = [remote.partial(t) for t in range(2)]
    _write(remote, paths[0], [1, 2, 3])
    _write(remote, paths[1], [])
    first = remote.local_files(paths)
    assert [pq.read_table(p).column("v").to_pylist() for p in first] == [[1, 2, 3], []]
    inputs = remote.store.local_dir("stages", remote.node, "inputs")  # the node's copies, shared by its attempts
    assert all(p.is_relative_to(inputs) for p in first)
    assert remote.local_files(paths) == first  # made once: another job of the run reuses them
    mtime = first[0].stat().st_mtime_ns
    remote.local_files(paths)
    assert first[0].stat().st_mtime_ns == mtime

    # a later run (another run id) on the same OUTPUT rewrote a partial under the same name: its
    # jobs read the new content, and the earlier run's copies leave the node's scratch
    _write(remote, paths[0], [7])
    rerun = StageStore(dataclasses.replace(remote.store, run_id="a-later-run"), remote.node)
    assert rerun.store.run_id != remote.store.run_id
    again = rerun.local_files(paths)
    assert pq.read_table(again[0]).column("v").to_pylist() == [7]
    assert not first[0].exists() and _files_under(inputs) == sorted(again)


def test_local_files_on_local_disk_are_the_files_themselves(tmp_path: Path) -> None:
    store = StageStore(WorkStore.open(tmp_path / "out"), "minhash_dedup")
    _write(store, store.partial(0), [1])
    assert store.local_files([store.partial(0)]) == [Path(store.partial(0))]
    assert not store.scratch.exists()
