"""A driver whose working directory is deleted (the CI failure of the three-node Ray test on S3):
nothing curate does for a run with absolute paths and URIs reads that directory.

The end-to-end check is `tests/clusters/test_s3.py::test_default_pipeline_on_a_three_node_ray_cluster_without_shared_disk`
(the driver starts in a directory removed before it runs); these are the two causes found there,
checked in this process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from curate.executors.ray import existing_working_directory
from curate.stages.sample import Sample
from curate.store.storage import Storage


@pytest.fixture()
def deleted_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process in a directory that no longer exists (monkeypatch brings it back out)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(FileNotFoundError):
        os.getcwd()
    return gone


def test_a_law_name_is_not_probed_as_a_file_in_the_working_directory(deleted_cwd: Path) -> None:
    # before the fix: storage.file_exists("datablations") made the name absolute with os.getcwd()
    # (the run's fingerprint, right after the output's lease) and the driver exited 1
    assert Sample(compute=1e15).dependency_files(Storage()) == []
    assert Sample(compute=1e15, law="chinchilla").dependency_files(Storage()) == []


def test_a_law_name_wins_over_a_file_of_that_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as resolve_law reads it: the name, so the file is no dependency of the run
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datablations").write_text("{}")
    assert Sample(compute=1e15).dependency_files(Storage()) == []
    law = tmp_path / "law.json"
    law.write_text("{}")
    assert Sample(compute=1e15, law=str(law)).dependency_files(Storage()) == [str(law)]


def test_ray_init_runs_from_the_temp_directory_then_the_process_comes_back(deleted_cwd: Path) -> None:
    with existing_working_directory():
        assert Path(os.getcwd()).is_dir()  # what ray.init reads, and where a local Ray's nodes start
    with pytest.raises(FileNotFoundError):  # back in the deleted one: a relative path still fails
        os.getcwd()
    assert not deleted_cwd.exists()


def test_an_existing_working_directory_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with existing_working_directory():
        assert Path(os.getcwd()) == tmp_path
    assert Path(os.getcwd()) == tmp_path
