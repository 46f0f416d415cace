"""Streams kept as deltas and read back by column (issue 34, bytes moved).

A global stage's apply over a stream kept under ``_curate/work/streams/`` keeps the stream it makes as
a delta (positions and the columns it changed) over the stream it read, and when nothing in its
pass needs whole rows it reads back only the columns its stages declare. Each test compares a run
with both against the same run keeping every stream whole (``_Delta.plan`` returning None: the
runner as it was before), file by file and byte for byte.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.pipeline import streams, task
from curate.store import layout
from tests.conftest import PIPELINES, ROOT, SAMPLE, env_with_repo, with_models

SCORE = "gopher_quality_alpha_words_ratio"
RUN_FILES = {layout.SUCCESS, layout.MARKER, layout.LEASE}  # they name the run, or its time


def _without_seconds(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_seconds(v) for k, v in obj.items() if not k.endswith("seconds")}
    if isinstance(obj, list):
        return [_without_seconds(v) for v in obj]
    return obj


def output_bytes(out: Path) -> dict[str, bytes]:
    """Every file a run leaves outside its work folder, by relative path (stats.json without its
    timings: the accounting is compared exactly), but for the hidden temporary files a killed
    run leaves (readers never pick them up)."""
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(f"{layout.WORK}/") or rel in RUN_FILES:
            continue
        data = path.read_bytes()
        if rel == layout.STATS:
            data = json.dumps(_without_seconds(json.loads(data)), sort_keys=True).encode()
        files[rel] = data
    return files


def delta_streams(out: Path) -> list[str]:
    """The kept streams whose files are deltas over another stream."""
    found = set()
    for path in (out / layout.WORK / "streams").glob("*/part-*.parquet"):
        if streams.BASE_KEY in (pq.read_schema(path).metadata or {}):
            found.add(path.parent.name)
    return sorted(found)


def _run(pipe: Pipeline, out: Path, src: Path = SAMPLE) -> None:
    pipe.run(src, out, workers=1, overwrite=True)


def _same_files(a: Path, b: Path) -> None:
    left, right = output_bytes(a), output_bytes(b)
    assert sorted(left) == sorted(right)
    differ = [rel for rel in left if left[rel] != right[rel]]
    assert not differ, f"files differ: {differ}"


@pytest.mark.parametrize("name", sorted(p.stem for p in PIPELINES.glob("*.yaml")))
def test_every_pipeline_writes_the_same_bytes_with_deltas(name: str, default_pipeline: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = Pipeline.from_yaml(with_models(PIPELINES / f"{name}.yaml", default_pipeline.parent))
    _run(pipe, tmp_path / "deltas")
    with monkeypatch.context() as m:
        m.setattr(task._Delta, "plan", staticmethod(lambda *args: None))
        _run(pipe, tmp_path / "whole")
    assert not delta_streams(tmp_path / "whole")
    if name != "foundation":  # its one global stage's stream goes to the sink only
        assert delta_streams(tmp_path / "deltas")
    _same_files(tmp_path / "deltas", tmp_path / "whole")


def pipeline_yaml(path: Path, middle: list[str], keep_rejected: bool = True) -> Path:
    """A pipeline of the map stages, the global stages `middle`, and quality_buckets (scored by a
    heuristic signal) into the default sink, in 64-row batches."""
    stages = ["normalize", "token_count", "heuristics", *middle]
    path.write_text(
        f"name: {path.stem}\nsettings:\n  keep_rejected: {str(keep_rejected).lower()}\n  batch_rows: 64\nstages:\n"
        + "".join(f"  - stage: {s}\n" for s in stages)
        + f"  - stage: quality_buckets\n    params: {{names: [high, low], quantiles: [0.5], score_column: {SCORE}}}\n")
    return path


def test_an_apply_pass_reads_back_only_the_declared_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """exact_dedup's apply feeds quality_buckets' summarize and nothing that needs whole rows (no
    sink, rejected rows not kept): its pass asks the stream for positions and the columns the two
    stages declare (id, text, dup_count; the score and token columns), none of heuristics' other
    signals; quality_buckets' pass, which feeds the sink, reads whole rows through the delta."""
    pipe = Pipeline.from_yaml(pipeline_yaml(tmp_path / "narrow.yaml", ["exact_dedup"], keep_rejected=False))
    asked: list[tuple[str, list[str] | None]] = []
    real = streams._Kept.batches

    def counting(self: streams._Kept, batch_rows: int, columns: list[str] | None) -> Any:
        asked.append((self.folder, None if columns is None else list(columns)))
        return real(self, batch_rows, columns)

    monkeypatch.setattr(streams._Kept, "batches", counting)
    _run(pipe, tmp_path / "deltas")
    available = [c for c in pq.read_schema(next((tmp_path / "deltas" / layout.WORK / "streams" / "heuristics.kept")
                                                .glob("*.parquet"))).names if c != layout.POSITION]
    assert len(available) > 20  # heuristics' signals: what a narrow read leaves behind
    expected = [c for c in available if c in {"id", "text", "n_tokens", SCORE}]  # dup_count: not there yet
    exact_reads = [cols for folder, cols in asked if folder == "heuristics.kept"]
    n_tasks = len(list(SAMPLE.glob("*.parquet")))
    # per task: exact_dedup's apply (narrow), then quality_buckets' whole rows through the delta
    assert exact_reads[:n_tasks] == [expected] * n_tasks
    assert len(exact_reads) == 2 * n_tasks
    assert all(cols is not None and set(cols) == set(available) - {"dup_count"} for cols in exact_reads[n_tasks:])
    assert delta_streams(tmp_path / "deltas") == ["exact_dedup.kept"]
    monkeypatch.setattr(streams._Kept, "batches", real)
    monkeypatch.setattr(task._Delta, "plan", staticmethod(lambda *args: None))
    _run(pipe, tmp_path / "whole")
    _same_files(tmp_path / "deltas", tmp_path / "whole")


def test_a_stage_that_rewrites_a_column_it_does_not_declare_keeps_its_stream_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """line_dedup rewrites the text, which it does not list in `produces`: its pass notices on the
    first batch that changed it, runs the task again keeping the stream whole, and the output is
    the same as when no stream is a delta."""
    pipe = Pipeline.from_yaml(pipeline_yaml(tmp_path / "lines.yaml", ["exact_dedup", "line_dedup"]))
    _run(pipe, tmp_path / "deltas")
    assert delta_streams(tmp_path / "deltas") == ["exact_dedup.kept"]  # line_dedup's own stream whole
    monkeypatch.setattr(task._Delta, "plan", staticmethod(lambda *args: None))
    _run(pipe, tmp_path / "whole")
    _same_files(tmp_path / "deltas", tmp_path / "whole")


def _curate(args: list[str], env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = env_with_repo()
    env.pop("CURATE_FAULT", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, start_new_session=True)


@pytest.mark.faults
@pytest.mark.parametrize("fault", ["task_done", "shard_write"])
def test_kill_and_resume_through_a_delta_gives_the_same_bytes(tmp_path: Path, fault: str) -> None:
    """A run killed in the pass that reads minhash_dedup's delta (over exact_dedup's delta over the
    map stages' stream) and resumed writes what an uninterrupted run writes, byte for byte."""
    src = tmp_path / "in"
    shutil.copytree(SAMPLE, src, ignore=shutil.ignore_patterns("*.md"))
    pipe = pipeline_yaml(tmp_path / "resume.yaml", ["exact_dedup", "minhash_dedup"])
    n_tasks = len(list(src.glob("*.parquet")))
    clean, out = tmp_path / "clean", tmp_path / "out"

    def args(o: Path) -> list[str]:
        return ["run", str(pipe), "--input", str(src), "--output", str(o), "--workers", "1", "--quiet"]

    assert _curate(args(clean)).returncode == 0
    # passes: ids, read, exact_dedup's apply, minhash_dedup's apply, quality_buckets' apply; the
    # crash comes in quality_buckets' (its input: minhash_dedup's delta), after its first task
    nth = 4 * n_tasks + 1 if fault == "task_done" else None
    if nth is None:  # the shard writes before: read (1 per task: rejected rows or not), exact, minhash
        crashed_probe = _curate(args(tmp_path / "probe"), {"CURATE_FAULT": "shard_write:100000",
                                                           "CURATE_FAULT_DIR": str(tmp_path)})
        assert crashed_probe.returncode == 0
        total = (tmp_path / "fault-shard_write.count").stat().st_size
        (tmp_path / "fault-shard_write.count").unlink()
        nth = total - 1  # the last shard write of the run: quality_buckets' apply, last task
    crashed = _curate(args(out), {"CURATE_FAULT": f"{fault}:{nth}", "CURATE_FAULT_DIR": str(tmp_path)})
    assert crashed.returncode == -9, crashed.stderr
    assert not (out / "_SUCCESS").exists()
    assert "exact_dedup.kept" in delta_streams(out) and "minhash_dedup.kept" in delta_streams(out)
    resumed = _curate([*args(out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    _same_files(out, clean)
