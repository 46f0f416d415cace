"""exact_dedup on the sample's planted duplicates: every copy found, nothing else removed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from curate.api import Pipeline
from curate.io.read import discover
from tests.conftest import read_output, rejected_dir


def _input_rows(src: Path) -> list[dict]:
    rows = []
    for path, _ in discover(src):
        rows.extend(pq.read_table(path, columns=["id", "text", "true_dup_group", "true_dup_kind"]).to_pylist())
    return rows


def test_every_planted_exact_duplicate_is_removed_and_nothing_else(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    Pipeline.from_stages(["exact_dedup"]).run(sample_dir, out, workers=2, keep_rejected=True)
    rows = _input_rows(sample_dir)
    by_text: dict[str, list[str]] = defaultdict(list)
    for r in rows:  # in task order: files sorted, rows in order
        by_text[r["text"]].append(r["id"])
    expected_removed = {i for ids in by_text.values() for i in ids[1:]}
    planted = {r["id"] for r in rows if r["true_dup_kind"] == "exact"}
    assert planted, "the sample must plant exact duplicates"
    # every planted copy is part of a removed pair: either it or its original goes
    groups = defaultdict(set)
    for r in rows:
        if r["true_dup_kind"] in ("exact", "original"):
            groups[r["true_dup_group"]].add(r["id"])
    kept = read_output(out)
    kept_ids = set(kept.column("id").to_pylist())
    removed = set(pq.read_table(rejected_dir(out, "exact_dedup")).column("id").to_pylist())
    assert removed == expected_removed
    assert len(removed) >= len(planted)
    assert kept_ids.isdisjoint(removed) and len(kept_ids) + len(removed) == len(rows)
    for ids in by_text.values():  # one kept per distinct text: the first, standing for all copies
        assert ids[0] in kept_ids
    counts = dict(zip(kept.column("id").to_pylist(), kept.column("dup_count").to_pylist()))
    for ids in by_text.values():
        assert counts[ids[0]] == len(ids)


def test_annotate_only_keeps_everything(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    Pipeline.from_stages([("exact_dedup", {"annotate_only": True})]).run(sample_dir, out, workers=1)
    assert len(read_output(out)) == 2000


def test_a_second_dedup_sums_earlier_dup_counts(tmp_path: Path) -> None:
    from tests.conftest import write_parquet

    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ["a", "b", "c"], "text": ["same", "same", "other"],
                                      "dup_count": [3, 2, 1]})
    out = tmp_path / "out"
    Pipeline.from_stages(["exact_dedup"]).run(src, out, workers=1)
    t = read_output(out)
    assert t.column("id").to_pylist() == ["a", "c"] and t.column("dup_count").to_pylist() == [5, 1]


def test_the_combines_open_a_bounded_number_of_files_whatever_the_number_of_tasks(tmp_path: Path) -> None:
    """More input files (tasks) than the process may open at once: exact_dedup's and
    line_dedup's combines scan their per-task partials as one list, not one open file per task
    (issue 33: 2,000 tasks failed with "Too many open files" under a common `ulimit -n 1024`)."""
    import resource
    import subprocess
    import sys

    import pyarrow as pa

    from tests.conftest import env_with_repo, read_stats

    src, n_files, fd_limit = tmp_path / "in", 120, 40
    src.mkdir()
    words = [f"{a}{b}" for a in ("al", "be", "ga", "de", "ep", "ze", "et", "th", "io", "ka") for b in "klmnoprstv"]
    for i in range(n_files):  # ids d100..d119 repeat the texts of d0..d19
        text = f"document {words[i % 100]} opens with this line\nand every copy shares this second line of text"
        pq.write_table(pa.table({"id": [f"d{i}"], "text": [text]}), src / f"part-{i:05d}.parquet")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - exact_dedup\n  - line_dedup\n")

    def limit_open_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--input", str(src),
                        "--output", str(out), "--workers", "1"], capture_output=True, text=True,
                       env=env_with_repo(), preexec_fn=limit_open_files)
    assert r.returncode == 0, r.stderr[-3000:]
    stages = {s["stage"]: s for s in read_stats(out)["stages"]}
    assert stages["exact_dedup"]["docs_in"] == n_files and stages["exact_dedup"]["docs_out"] == 100
    assert stages["line_dedup"]["docs_out"] == 100  # each keeps its own first line
    assert len(read_output(out)) == 100
