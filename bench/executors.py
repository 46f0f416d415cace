"""Executors: the default pipeline on the local executor and on Ray, with 1 and 2 workers.

Every configuration runs `pipelines/default.yaml` (model paths pointed at the demo models,
cached under bench/.cache) over the same generated corpus, in this one process, one after
another. The executor is created first and warmed up on a tiny corpus (worker processes started,
modules imported, numba kernels loaded), so that the figures are throughput, not start-up; the
start-up (a local Ray takes seconds to come up) is reported in its own column.

- Map phase: the first pass over the shards (read, normalize, token_count, heuristics, filter,
  both classifiers, exact-dedup summarize), timed from the runner's "pass 1/" log line to the next.
- Whole pipeline: run_graph's wall time (every pass, combine steps, stats), start-up excluded.

Targets (issue 6) on the map phase: Ray at 2 workers >= 1.7x Ray at 1 worker; Ray <= 1.3x the
local executor's time at equal workers.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, LogClock, corpus, md_table, run_graph_once, scale_arg  # noqa: E402
from quality import bench_models  # noqa: E402

from curate.store.layout import DEFAULT_SINK  # noqa: E402

CONFIGS = [("local", 1), ("local", 2), ("ray", 1), ("ray", 2)]


def default_pipeline(models: Path, out: Path) -> Path:
    """pipelines/default.yaml with its model paths pointed at `models`."""
    import yaml

    spec = yaml.safe_load((ROOT / "pipelines" / "default.yaml").read_text())
    for stage in spec["stages"]:
        params = stage.get("params") or {}
        if "model" in params:
            params["model"] = str(models / Path(params["model"]).name)
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def run_once(graph: Any, src: Path, out: Path, executor: Any) -> tuple[float, float, dict]:
    """(map-phase seconds, whole-run seconds, stats) of one run on an existing executor."""
    from curate.pipeline.settings import RunSettings

    with LogClock() as clock:
        t0 = time.perf_counter()
        result = run_graph_once(graph, src, out, executor, RunSettings(keep_rejected=True))
    return clock.map_pass_seconds(), time.perf_counter() - t0, result.stats


def measure(kind: str, workers: int, graph: Any, src: Path, warm: Path, tmp: Path) -> dict[str, Any]:
    from curate.executors.base import make_executor

    t0 = time.perf_counter()
    executor = make_executor(kind, workers)
    try:
        run_once(graph, warm, tmp / "warm", executor)
        startup = time.perf_counter() - t0
        map_s, total_s, stats = run_once(graph, src, tmp / f"{kind}-{workers}", executor)
    finally:
        executor.close()
    return {"kind": kind, "workers": workers, "startup": startup, "map": map_s, "total": total_s,
            "docs": stats["docs_in"], "mb": stats["stages"][0]["bytes_in"] / 1e6, "tasks": stats["tasks"],
            "ids": _shard_ids(tmp / f"{kind}-{workers}")}


def _shard_ids(out: Path) -> list[list[str]]:
    import pyarrow.parquet as pq

    return [pq.read_table(p, columns=["id"]).column("id").to_pylist() for p in sorted((out / DEFAULT_SINK).glob("part-*.parquet"))]


def main() -> None:
    from curate.pipeline.spec import load_graph
    from curate.store.storage import Storage

    scale = scale_arg()
    # enough work per task that a task's fixed costs (plan and model loading, scheduling) are small
    n_docs, n_shards = (40_000, 16) if scale == "small" else (200_000, 32)
    src = corpus(n_docs, n_shards=n_shards)
    warm = corpus(400, n_shards=4)
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-exec-"))
    try:
        graph = load_graph(default_pipeline(bench_models(), tmp / "default.yaml"), Storage())
        results = [measure(kind, w, graph, src, warm, tmp) for kind, w in CONFIGS]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    by = {(r["kind"], r["workers"]): r for r in results}
    same = all(r["ids"] == results[0]["ids"] for r in results)
    rows = []
    for r in results:
        rows.append([r["kind"], r["workers"], f"{r['startup']:.1f}", f"{r['map']:.2f}",
                     f"{r['docs'] / r['map']:,.0f}", f"{r['mb'] / r['map']:.2f}", f"{r['total']:.2f}"])
    r1, r2 = by[("ray", 1)], by[("ray", 2)]
    scaling = r1["map"] / r2["map"]
    over = {w: by[("ray", w)]["map"] / by[("local", w)]["map"] for w in (1, 2)}
    over_total = {w: by[("ray", w)]["total"] / by[("local", w)]["total"] for w in (1, 2)}
    mb = results[0]["mb"]
    print(f"### executors: default pipeline, local vs Ray ({n_docs:,} docs in {results[0]['tasks']} tasks, "
          f"{mb:,.0f} MB of text)\n")
    print(md_table(["executor", "workers", "start-up + warm-up s", "map phase s", "map docs/s", "map MB/s",
                    "whole pipeline s"], rows))
    print()
    print(md_table(["ratio", "map phase", "whole pipeline", "target (map phase)", "met"], [
        ["Ray 2 workers speed-up over Ray 1 worker", f"{scaling:.2f}x", f"{r1['total'] / r2['total']:.2f}x",
         ">= 1.7x", "yes" if scaling >= 1.7 else "no"],
        ["Ray / local time, 1 worker", f"{over[1]:.2f}", f"{over_total[1]:.2f}", "<= 1.3", "yes" if over[1] <= 1.3
         else "no"],
        ["Ray / local time, 2 workers", f"{over[2]:.2f}", f"{over_total[2]:.2f}", "<= 1.3", "yes" if over[2] <= 1.3
         else "no"],
    ]))
    print(f"\nSame kept ids in the same order per shard on every executor and worker count: "
          f"**{'yes' if same else 'NO'}**.")


if __name__ == "__main__":
    main()
