"""--clean-work: _curate/work/ is removed once _SUCCESS is written (the ownership marker stays), and
`curate stats` shows how much it holds."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from curate.api import Pipeline
from curate.store import layout
from curate.store.layout import WorkStore
from tests.conftest import shard_ids, work_dir
from tests.in_process import curate

PIPELINE = "name: two_passes\nstages:\n  - stage: exact_dedup\n  - stage: length_filter\n    params: {min_chars: 20}\n"


def test_clean_work_removes_work_after_success_and_keeps_the_marker(sample_dir: Path, tmp_path: Path) -> None:
    yaml = tmp_path / "p.yaml"
    yaml.write_text(PIPELINE)
    kept, cleaned = tmp_path / "kept", tmp_path / "cleaned"
    assert curate("run", str(yaml), "--input", str(sample_dir), "--output", str(kept), "--workers", "2").returncode == 0
    size = WorkStore.open(kept).work_bytes()
    assert size > 0 and work_dir(kept).is_dir()
    s = curate("stats", str(kept))
    assert s.returncode == 0 and f"{layout.WORK}/: " in s.stdout and "--clean-work" in s.stdout
    r = curate("run", str(yaml), "--input", str(sample_dir), "--output", str(cleaned), "--workers", "2",
               "--clean-work")
    assert r.returncode == 0, r.stderr
    assert not work_dir(cleaned).exists()
    assert {p.name for p in cleaned.iterdir()} == {"_SUCCESS", layout.CURATE_DIR, layout.DEFAULT_SINK}
    assert (cleaned / layout.MARKER).exists() and (cleaned / layout.STATS).exists()
    assert shard_ids(cleaned) == shard_ids(kept)
    assert f"{layout.WORK}/: removed" in curate("stats", str(cleaned)).stdout
    # the setting is not part of what makes a run the same run: a finished run resumed with it is cleaned
    r = curate("run", str(yaml), "--input", str(sample_dir), "--output", str(kept), "--resume", "--clean-work")
    assert r.returncode == 0, r.stderr
    assert not work_dir(kept).exists() and (kept / layout.MARKER).exists()
    # a cleaned run resumed recomputes everything and writes the same shards
    r = curate("run", str(yaml), "--input", str(sample_dir), "--output", str(cleaned), "--resume")
    assert r.returncode == 0, r.stderr
    assert shard_ids(cleaned) == shard_ids(kept) and work_dir(cleaned).is_dir()


def test_work_of_an_unfinished_run_is_never_removed(tmp_path: Path) -> None:
    store = WorkStore.open(tmp_path / "o")
    store.files.write_json(store.manifest, {"run": 1})
    assert store.clean_work() is False and store.files.exists(store.manifest)


def test_clean_work_on_memory_storage(sample_dir: Path) -> None:
    out = "memory://curate-clean/out"
    Pipeline.from_stages(["exact_dedup"]).run(sample_dir, out, workers=1, clean_work=True)
    store = WorkStore.open(out)
    assert not store.files.exists(store.work) and store.files.exists(store.success_file)
    data = store.sink_dir(layout.DEFAULT_SINK)
    assert sum(pq.ParquetFile(store.files.fs.open_input_file(f"{data}/{name}")).metadata.num_rows
               for name in store.files.listdir(data)) > 0
