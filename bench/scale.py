"""Cost as work grows: the default pipeline without its classifiers at three corpus sizes (issue 20).

pipelines/default.yaml minus the two classify stages (quality_buckets and sample bucket and rank
by gopher_quality_alpha_words_ratio instead of a model's score; the sampler's compute budget grows
with the corpus, so it writes the same share of it at every size). Each size runs in a fresh
Python process with 2 workers, on an executor warmed up first on 400 documents (so the
figures are the work's, not the start-up's: bench/dedup_stdlib.py and bench/pipeline.py time
whole commands); the map phase (pass 1: normalize, token_count, heuristics, filter,
exact-dedup summarize) also with 1 worker at the smallest size.

- Time per document at the largest size against the smallest (target <= 1.25x).
- Peak RSS of the process tree above the child's post-import baseline (target: at most 1.5x
  growth for 10x the documents).
- Map phase at 2 workers against 1 (target >= 1.8x).
- Per combine step (exact_dedup, minhash_dedup, quality_buckets, sample): seconds and the peak RSS
  of the process tree above the value when the step began; the slope between the smallest and
  the largest size is what the step holds per document.
- Bytes read and written per byte of input Parquet: the one-worker run, driver and worker being
  one process (/proc/self/io rchar / wchar around the timed run: read() and write() calls, page
  cache or not).

Sizes: small 5k, 15k, 50k; full 100k, 300k, 1M documents; 8, 24 and 80 input files, so that a
task (one file) holds the same number of documents at every size and only the combine steps and
the number of tasks grow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    LogClock,
    corpus,
    load_average,
    md_table,
    run_graph_once,
    scale_arg,
    tree_rss,
)

SIZES = {"small": (5_000, 15_000, 50_000), "full": (100_000, 300_000, 1_000_000)}
SHARDS = (8, 24, 80)  # input files per size: the same documents per task at every size of a scale
SCORE = "gopher_quality_alpha_words_ratio"
CHILD_FLAG = "--scale-run"


def pipeline_without_classifiers(n_docs: int, out: Path) -> Path:
    """pipelines/default.yaml without classify; buckets and sampler scored by a heuristic signal."""
    import yaml

    spec = yaml.safe_load((ROOT / "pipelines" / "default.yaml").read_text())
    spec["stages"] = [s for s in spec["stages"] if s["stage"] != "classify"]
    for s in spec["stages"]:
        if s["stage"] in ("quality_buckets", "sample"):
            s.setdefault("params", {})["score_column"] = SCORE
        if s["stage"] == "sample":  # the default budget is sized for the 2,000-document sample
            s["params"]["compute"] = float(s["params"]["compute"]) * n_docs / 2000
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


class TreeRss:
    """(time, RSS of this process and its children) every 20 ms, in a thread."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return tree_rss(self.proc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            time.sleep(0.02)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        inside = [r for t, r in self.samples if t0 <= t <= t1]
        return max(inside, default=self.at(t0))

    def at(self, t: float) -> int:
        before = [r for s, r in self.samples if s <= t]
        return before[-1] if before else self.samples[0][1]


def _io() -> dict[str, int]:
    with open("/proc/self/io") as fh:
        return {k: int(v) for k, v in (line.strip().split(": ") for line in fh)}


def _child(src: Path, out: Path, pipeline: Path, workers: int) -> None:
    """One run in this fresh process, on an executor warmed up first on a 400-document corpus (pool
    started, modules imported, kernels loaded: the figures are the work's, not the start-up's);
    prints a JSON line of its figures."""
    from curate.executors.base import make_executor
    from curate.pipeline.settings import RunSettings
    from curate.pipeline.spec import load_graph
    from curate.store.storage import Storage

    graph = load_graph(pipeline, Storage())
    settings = RunSettings.resolve(graph.settings)
    executor = make_executor("local", workers)
    try:
        run_graph_once(graph, corpus(400, n_shards=4), Path(str(out) + "-warm"), executor, settings)
        rss = TreeRss()
        base = rss.rss()
        io0 = _io()
        with rss, LogClock() as clock:
            t0 = time.perf_counter()
            run_graph_once(graph, src, out, executor, settings)
            seconds = time.perf_counter() - t0
        io1 = _io()
        lines = clock.lines
    finally:
        executor.close()
    passes, combines = {}, {}
    for i, (t, msg) in enumerate(lines):
        end = next((u for u, m in lines[i + 1:] if m.startswith(("pass ", "combine "))), t0 + seconds)
        if msg.startswith("pass "):
            passes[msg.split(": ", 1)[1].rsplit(" (", 1)[0]] = end - t
        elif msg.startswith("combine "):
            name = msg.split()[1]
            combines[name] = {"seconds": end - t, "peak_mb": (rss.peak(t, end) - rss.at(t)) / 2**20}
    print(json.dumps({"seconds": seconds, "peak_mb": (rss.peak() - base) / 2**20, "passes": passes,
                      "combines": combines, "read": io1["rchar"] - io0["rchar"],
                      "written": io1["wchar"] - io0["wchar"]}))


def run(src: Path, out: Path, pipeline: Path, workers: int) -> dict[str, Any]:
    """_child in a fresh Python process (earlier runs leave nothing in its baseline)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, __file__, CHILD_FLAG, str(src), str(out), str(pipeline), str(workers)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(str(out) + "-warm", ignore_errors=True)
    return result


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == CHILD_FLAG:
        _child(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
        return
    scale = scale_arg()
    sizes = SIZES[scale]
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-scale-"))
    loads = [load_average()]
    try:
        srcs = {n: corpus(n, n_shards=k) for n, k in zip(sizes, SHARDS)}
        pipes = {n: pipeline_without_classifiers(n, tmp / f"pipeline-{n}.yaml") for n in sizes}
        run(srcs[sizes[0]], tmp / "warm", pipes[sizes[0]], 2)  # numba's cache filled before any timing
        one = run(srcs[sizes[0]], tmp / "one", pipes[sizes[0]], 1)
        loads.append(load_average())
        results = {}
        for n in sizes:
            results[n] = run(srcs[n], tmp / f"run-{n}", pipes[n], 2)
            loads.append(load_average())
        parquet_bytes = sum(f.stat().st_size for f in srcs[sizes[0]].glob("*.parquet"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    small, large = sizes[0], sizes[-1]
    map1 = next(iter(one["passes"].values()))
    map2 = next(iter(results[small]["passes"].values()))
    per_doc = {n: results[n]["seconds"] / n for n in sizes}
    time_growth = per_doc[large] / per_doc[small]
    mem_growth = results[large]["peak_mb"] / results[small]["peak_mb"]
    print(f"### scale: default pipeline without classifiers, {', '.join(f'{n:,}' for n in sizes)} documents "
          "(2 workers)\n")
    print(f"Load average (1 / 5 / 15 min) before and after each run: {'; '.join(loads)}.\n")
    print(md_table(["documents", "wall s", "CPU s (all processes, warm-up included)", "µs per doc", "docs/s", "map phase s",
                    "peak RSS above baseline MB"],
                   [[f"{n:,}", r["seconds"], r["cpu"], 1e6 * per_doc[n], n / r["seconds"],
                     next(iter(r["passes"].values())), r["peak_mb"]] for n, r in results.items()]))
    print(f"\nMap phase at {small:,} documents: 1 worker {map1:.2f} s, 2 workers {map2:.2f} s ({map1 / map2:.2f}x).\n")
    print("Combine steps (in the driver, and in the workers for minhash's band jobs): seconds / peak RSS "
          "above the step's start, MB; bytes per document = the peak's growth between the smallest and "
          "the largest size per added document:\n")
    names = list(results[large]["combines"])
    rows = []
    for name in names:
        row: list[Any] = [name]
        for n in sizes:
            c = results[n]["combines"].get(name, {"seconds": float("nan"), "peak_mb": float("nan")})
            row.append(f"{c['seconds']:.2f} / {c['peak_mb']:.0f}")
        lo, hi = results[small]["combines"][name]["peak_mb"], results[large]["combines"][name]["peak_mb"]
        row.append(max(0.0, (hi - lo) * 2**20 / (large - small)))
        rows.append(row)
    print(md_table(["combine", *[f"{n:,} docs" for n in sizes], "bytes per document"], rows))
    print(f"\nOne-worker run at {small:,} documents: {one['read'] / parquet_bytes:.2f} bytes read and "
          f"{one['written'] / parquet_bytes:.2f} written per byte of input Parquet ({parquet_bytes / 1e6:.1f} MB).\n")
    print("Targets:\n")
    for name, ok, value in [
        (f"time per document at {large:,} within 1.25x of {small:,}", time_growth <= 1.25, f"{time_growth:.2f}x"),
        (f"peak RSS growth at most 1.5x for {large // small}x the documents", mem_growth <= 1.5, f"{mem_growth:.2f}x"),
        ("map phase at 2 workers >= 1.8x one worker", map1 / map2 >= 1.8, f"{map1 / map2:.2f}x"),
    ]:
        print(f"- {name}: **{'met' if ok else 'not met'}** ({value})")


if __name__ == "__main__":
    main()
