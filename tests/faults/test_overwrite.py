"""--overwrite removes only what curate made (issue 35, finding 3): the names a run creates at the
top of OUTPUT are recorded in its marker before they exist, the wipe removes those and nothing else,
and a wipe killed half-way leaves a directory the next --overwrite (or --resume) takes up.

Reproduced first: before, --overwrite deleted every name in OUTPUT (an ANALYSIS.md, a notebooks/
folder the user added), and a kill -9 during the wipe removed _CURATE_RUN.json first (sorted
order), after which --overwrite and --resume both refused the directory for good."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.store import layout
from tests.conftest import ROOT, env_with_repo, shard_ids, write_parquet

TWO_SINKS = """name: two_sinks
stages:
  - stage: normalize
  - stage: length_filter
    params: {min_words: 3}
outputs:
  kept: length_filter
  short: length_filter.rejected
"""


def _input(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    for f in range(3):
        write_parquet(src / f"s{f}.parquet", {"id": [f"d{f}-{i}" for i in range(6)],
                                              "text": [("word " * (i + 1)).strip() for i in range(6)]})
    return src


def _pipeline() -> Pipeline:
    return Pipeline("p").add("normalize").add("length_filter", min_words=3)


def _curate(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env or env_with_repo(),
                          capture_output=True, text=True, timeout=300, start_new_session=True)


def _marker(out: Path) -> dict:
    return json.loads((out / layout.MARKER).read_text())


def test_overwrite_keeps_the_files_the_user_added(tmp_path: Path) -> None:
    src, out = _input(tmp_path), tmp_path / "out"
    _pipeline().run(src, out, workers=1)
    assert _marker(out)["names"] == ["_SUCCESS", "_curate", "data"] and _marker(out)["layout"] == 2
    (out / "ANALYSIS.md").write_text("my notes")
    (out / "notebooks").mkdir()
    (out / "notebooks" / "look.ipynb").write_text("{}")
    (out / layout.CURATE_DIR / "mine.txt").write_text("inside _curate: curate's own folder")
    result = Pipeline("p").add("normalize").add("length_filter", min_words=4).run(src, out, workers=1, overwrite=True)
    assert (out / "ANALYSIS.md").read_text() == "my notes" and (out / "notebooks" / "look.ipynb").exists()
    assert not (out / layout.CURATE_DIR / "mine.txt").exists()  # _curate/ is curate's: wiped whole
    assert sum(map(len, shard_ids(out))) == result.stats["docs_out"] == 9
    assert sorted(p.name for p in out.iterdir()) == ["ANALYSIS.md", "_SUCCESS", "_curate", "data", "notebooks"]


def test_overwrite_removes_the_sinks_the_earlier_run_made(tmp_path: Path) -> None:
    src, out = _input(tmp_path), tmp_path / "out"
    yaml = tmp_path / "two.yaml"
    yaml.write_text(TWO_SINKS)
    Pipeline.from_yaml(yaml).run(src, out, workers=1)
    assert _marker(out)["names"] == ["_SUCCESS", "_curate", "kept", "short"]
    _pipeline().run(src, out, workers=1, overwrite=True)  # no outputs: now the sink data/
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "_curate", "data"]
    assert _marker(out)["names"] == ["_SUCCESS", "_curate", "data"]


def test_a_folder_named_like_a_new_sink_that_no_run_made_is_refused(tmp_path: Path) -> None:
    src, out = _input(tmp_path), tmp_path / "out"
    _pipeline().run(src, out, workers=1)
    (out / "kept").mkdir()
    (out / "kept" / "mine.parquet").write_text("the user's")
    for flags in ({"overwrite": True}, {"resume": True}):
        with pytest.raises(ConfigError, match="holds kept, which no curate run made there; this run writes a sink "
                                              "of that name"):
            Pipeline.from_yaml(_two_sinks(tmp_path)).run(src, out, workers=1, **flags)
    assert (out / "kept" / "mine.parquet").read_text() == "the user's"
    assert (out / "_SUCCESS").exists()  # refused before anything was touched


def _two_sinks(tmp_path: Path) -> Path:
    yaml = tmp_path / "two.yaml"
    yaml.write_text(TWO_SINKS)
    return yaml


def test_a_run_killed_before_its_marker_leaves_a_directory_a_plain_run_takes(tmp_path: Path) -> None:
    """Only a lease (stale: its heartbeat long past its ttl) under _curate/: as a run killed between
    taking the lease and writing its marker leaves it. Without flags the next run starts."""
    src, out = _input(tmp_path), tmp_path / "out"
    old = time.time() - 3600
    (out / layout.CURATE_DIR).mkdir(parents=True)
    (out / layout.LEASE).write_text(json.dumps({"holder": "x", "host": "elsewhere", "pid": 1, "started": old,
                                                "heartbeat": old, "ttl": 30.0}))
    result = _pipeline().run(src, out, workers=1)
    assert result.stats["docs_out"] == 12 and (out / "_SUCCESS").exists()


@pytest.mark.faults
@pytest.mark.parametrize("nth", [1, 3])
def test_a_wipe_killed_half_way_is_taken_up_by_overwrite_and_by_resume(tmp_path: Path, nth: int) -> None:
    src, out, clean = _input(tmp_path), tmp_path / "out", tmp_path / "clean"
    yaml = _two_sinks(tmp_path)
    args = ["run", str(yaml), "--input", str(src), "--workers", "1", "--quiet"]
    assert _curate(*args, "--output", str(clean)).returncode == 0
    assert _curate(*args, "--output", str(out)).returncode == 0
    (out / "ANALYSIS.md").write_text("my notes")
    env = {**env_with_repo(), "CURATE_FAULT": f"wipe:{nth}", "CURATE_FAULT_DIR": str(tmp_path)}
    killed = _curate(*args, "--output", str(out), "--overwrite", env=env)
    assert killed.returncode == -9, killed.stderr
    assert not (out / "_SUCCESS").exists() and (out / layout.MARKER).exists()  # never looks finished
    for flag in ("--resume", "--overwrite"):
        r = _curate(*args, "--output", str(out), flag)
        assert r.returncode == 0, r.stderr
        for sink in ("kept", "short"):
            assert shard_ids(out, sink) == shard_ids(clean, sink)
    assert (out / "ANALYSIS.md").read_text() == "my notes"
