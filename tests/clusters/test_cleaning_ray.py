"""decontaminate, line_dedup and c4_clean on a real local Ray give the local executor's output."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.io.read import discover
from tests.clusters.loopback import assert_same_run

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_ray")]



def test_cleaning_stages_give_the_local_executors_output(sample_dir: Path, tmp_path: Path) -> None:
    first = next(iter(discover(sample_dir)))[0]
    passages = pq.read_table(first, columns=["text"]).slice(0, 20)
    pq.write_table(passages, tmp_path / "bench.parquet")
    pipe = Pipeline.from_stages([
        ("decontaminate", {"benchmarks": {"sample": str(tmp_path / "bench.parquet")}, "ngram": 8}),
        ("line_dedup", {"max_count": 2}),
        ("c4_clean", {"min_sentences": 1}),
    ])
    local = pipe.run(sample_dir, tmp_path / "local", workers=2, keep_rejected=True)
    on_ray = pipe.run(sample_dir, tmp_path / "ray", workers=2, executor="ray", keep_rejected=True)
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    by_stage = {s["stage"]: s["rejected_total"] for s in on_ray.stages}
    assert by_stage["decontaminate"] >= 20 and by_stage["c4_clean"] > 0
    assert on_ray.stats["docs_out"] == local.stats["docs_out"] > 0
