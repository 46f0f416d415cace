"""No path escapes OUTPUT (issue 35, finding 2).

A file name a stage parameter gives (``quality_buckets``' and ``sample``'s ``output``) stays
under OUTPUT, checked when the pipeline is built and again where the path is made; an input file
that resolves (through symlinks) into OUTPUT is refused before anything is wiped. Every refusal
is exit 2 with one line, and no file outside OUTPUT is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.errors import ConfigError
from curate.store import layout
from curate.store.layout import WorkStore
from tests.conftest import ROOT, data_dir, env_with_repo

BUCKETS = """
stages:
  - stage: token_count
  - stage: quality_buckets
    params: {score_column: n_tokens, output: "OUTPUT_NAME"}
"""


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", "run", *args, "--workers", "1", "--quiet"], cwd=ROOT,
                          env=env_with_repo(), capture_output=True, text=True, timeout=300)


def _error_line(r: subprocess.CompletedProcess) -> str:
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["../../../sample/shard-00002.parquet", "../x/../../../sample/shard-00002.parquet",
                                  "/ABS/shard-00002.parquet"])
def test_a_parameter_naming_a_file_outside_output_is_refused(sample_dir: Path, tmp_path: Path, name: str) -> None:
    """The issue's reproduction: quality_buckets' output climbing out of OUTPUT onto an input
    shard (or an absolute path) is exit 2 naming the stage and the parameter; the input is intact."""
    name = name.replace("/ABS", str(sample_dir))
    pipe = tmp_path / "buckets.yaml"
    pipe.write_text(BUCKETS.replace("OUTPUT_NAME", name))
    before = _tree(sample_dir)
    out = tmp_path / "out"
    r = curate(str(pipe), "--input", str(sample_dir), "--output", str(out))
    assert r.returncode == 2, r.stderr
    line = _error_line(r)
    assert "'quality_buckets'" in line and "'output'" in line and "under the output directory" in line, line
    assert _tree(sample_dir) == before
    assert not out.exists()  # refused when the pipeline is built, before OUTPUT is claimed


def test_a_parameter_naming_a_file_under_its_meta_folder_is_written_there(sample_dir: Path, tmp_path: Path) -> None:
    pipe = tmp_path / "buckets.yaml"
    pipe.write_text(BUCKETS.replace("OUTPUT_NAME", "sub/../cuts.json"))
    out = tmp_path / "out"
    r = curate(str(pipe), "--input", str(sample_dir), "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / layout.META / "quality_buckets" / "cuts.json").is_file()


@pytest.mark.parametrize("name", ["../../x.json", "/etc/x.json", "a/../../../x.json", "", "."])
def test_the_work_store_makes_no_path_outside_output(tmp_path: Path, name: str) -> None:
    """Where the path is made (a custom stage's write_meta, a sink or node name), a name that
    leaves its folder is refused: exit 2 (ConfigError), whatever the caller checked before."""
    store = WorkStore.open(tmp_path / "out")
    with pytest.raises(ConfigError, match="under the output directory"):
        store.meta("node", name)
    with pytest.raises(ConfigError, match="under the output directory"):
        store.sink_dir(name or "..")
    with pytest.raises(ConfigError, match="under the output directory"):
        store.rejected(name or "..", 0)


def test_a_symlink_in_output_that_leads_outside_is_refused(tmp_path: Path) -> None:
    """A name that stays under OUTPUT as written but resolves outside it through a symlink
    (planted in OUTPUT before a --resume) is refused too."""
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    (out / layout.META).mkdir(parents=True)
    (out / layout.META / "node").symlink_to(outside)
    store = WorkStore.open(out)
    with pytest.raises(ConfigError, match="under the output directory"):
        store.meta("node", "buckets.json")
    assert store.meta("other", "buckets.json").endswith(f"/{layout.META}/other/buckets.json")


@pytest.mark.parametrize("link", ["file", "dir"])
def test_an_input_symlink_into_output_is_refused_before_the_wipe(sample_dir: Path, tmp_path: Path, link: str) -> None:
    """The issue's reproduction: an input directory holds a symlink into OUTPUT (a file of it, or
    OUTPUT itself); --overwrite must not delete those files: exit 2 naming the input entry, OUTPUT
    untouched."""
    pipe = ROOT / "pipelines" / "foundation.yaml"
    out = tmp_path / "out"
    first = curate(str(pipe), "--input", str(sample_dir), "--output", str(out))
    assert first.returncode == 0, first.stderr
    inp = tmp_path / "inp"
    inp.mkdir()
    os.link(sample_dir / "shard-00000.parquet", inp / "a.parquet")
    if link == "file":
        (inp / "b.parquet").symlink_to(data_dir(out) / "part-00000.parquet")
        entry = "b.parquet"
    else:
        (inp / "b").symlink_to(out)
        entry = "b/data/part-00000.parquet"
    before = _tree(out)
    r = curate(str(pipe), "--input", str(inp), "--output", str(out), "--overwrite")
    assert r.returncode == 2, r.stderr
    line = _error_line(r)
    assert f"input file {entry} " in line and "inside the output directory" in line, line
    assert _tree(out) == before
