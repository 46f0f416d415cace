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
