"""OUTPUT's layout (issue 31, item 2): sinks hold shards only, everything else is under _curate/,
_SUCCESS at the top; the verbs that read a run also read a run of layout 1 (everything at the top),
and --resume / --overwrite refuse one with a message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from curate.api import Pipeline
from curate.store import layout
from tests.conftest import ROOT, read_stats, write_parquet
from tests.in_process import curate


def _input(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    for f in range(2):
        write_parquet(src / f"s{f}.parquet", {"id": [f"d{f}-{i}" for i in range(5)],
                                              "text": [("word " * (i + 1)).strip() for i in range(5)]})
    return src


def test_a_run_without_outputs_writes_data_curate_and_success_only(tmp_path: Path) -> None:
    src, out = _input(tmp_path), tmp_path / "out"
    Pipeline("p").add("length_filter", min_words=2).run(src, out, workers=1, keep_rejected=True)
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "_curate", "data"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert set(json.loads((out / "_SUCCESS").read_text())) == {"run"}  # it names the run, nothing more
    for rel in (layout.MARKER, layout.STATS, layout.WORK, f"{layout.REJECTED}/length_filter"):
        assert (out / rel).exists(), rel
    assert read_stats(out)["sinks"] == {"data": {"from": "length_filter", "format": "parquet", "docs": 8,
                                                 "bytes": read_stats(out)["sinks"]["data"]["bytes"], "shards": 2,
                                                 "empty_tasks": []}}


def _layout_1_run(tmp_path: Path) -> Path:
    """A finished run moved into the layout curate wrote before version 2: shards, _stats.json,
    _meta/, _work/ and _CURATE_RUN.json side by side at the top of OUTPUT."""
    src, out = _input(tmp_path), tmp_path / "old"
    Pipeline("p").add("length_filter", min_words=2).run(src, out, workers=1)
    for shard in (out / "data").iterdir():
        shard.rename(out / shard.name)
    (out / "data").rmdir()
    (out / layout.STATS).rename(out / "_stats.json")
    (out / layout.WORK).rename(out / "_work")
    (out / "_meta" / "sample").mkdir(parents=True)
    (out / "_meta" / "sample" / "plan.json").write_text('{"buckets": [{"name": "web", "epochs": 2.5}]}')
    marker = json.loads((out / layout.MARKER).read_text())
    (out / "_CURATE_RUN.json").write_text(json.dumps({k: marker[k] for k in ("tool", "version", "created")}))
    shutil.rmtree(out / layout.CURATE_DIR)
    return out


def test_a_layout_1_run_is_read_by_stats_and_plan_and_refused_by_resume_and_overwrite(tmp_path: Path) -> None:
    old = _layout_1_run(tmp_path)
    before = sorted(p.relative_to(old) for p in old.rglob("*"))
    stats = curate("stats", str(old))
    assert stats.returncode == 0, stats.stderr
    assert "8 out" in stats.stdout and "length_filter" in stats.stdout
    assert json.loads(curate("stats", str(old), "--json").stdout)["docs_out"] == 8
    plan = curate("plan", "--from-plan", str(old))
    assert plan.returncode == 0 and "2.50" in plan.stdout
    for flag in ("--resume", "--overwrite"):
        r = curate("run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(tmp_path / "in"),
                    "--output", str(old), flag)
        assert r.returncode == 2
        lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
        assert len(lines) == 1 and "holds a run of an older curate (layout 1: _CURATE_RUN.json at the top" in lines[0]
        assert f"{flag} cannot continue or replace it" in lines[0]
    assert sorted(p.relative_to(old) for p in old.rglob("*")) == before  # nothing touched
    assert pq.read_table(old / "part-00000.parquet").num_rows > 0
