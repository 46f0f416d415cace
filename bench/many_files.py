"""Many small files: per-task overhead must stay bounded, so run time grows linearly with the
number of files, and two workers are at least as fast as one.

Inputs of 5,000, 10,000 and 20,000 one-row Parquet files; `curate run` with one passthrough
stage on 1 and 2 workers (best of 2). Also what an fsync per file would cost: writing 2,000 small
files with and without an fsync before each rename (the work store syncs once per done marker
instead).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import md_table, scale_arg  # noqa: E402


def make_files(root: Path, n: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = root / f"in-{n}"
    src.mkdir()
    for i in range(n):
        pq.write_table(pa.table({"id": [f"d{i}"], "text": [f"document number {i} with a few words"]}),
                       src / f"f{i:06d}.parquet")
    return src


def run(src: Path, out: Path, workers: int) -> float:
    from curate.api import Pipeline

    t0 = time.perf_counter()
    Pipeline.from_stages(["passthrough"]).run(src, out, workers=workers, overwrite=out.exists())
    return time.perf_counter() - t0


def fsync_cost(root: Path, n: int = 2000) -> tuple[float, float]:
    data = b"x" * 4096
    times = []
    for sync in (False, True):
        d = root / f"sync-{sync}"
        d.mkdir()
        t0 = time.perf_counter()
        for i in range(n):
            tmp, final = d / f".{i}.tmp", d / f"{i}.bin"
            with open(tmp, "wb") as fh:
                fh.write(data)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, final)
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def main() -> None:
    scale = scale_arg()
    sizes = [5_000, 10_000, 20_000] if scale == "full" else [1_000, 2_000, 4_000]
    root = Path(tempfile.mkdtemp(prefix="curate-bench-files-"))
    try:
        rows, times = [], {}
        for n in sizes:
            src = make_files(root, n)
            for workers in (1, 2):
                best = min(run(src, root / f"out-{n}-{workers}", workers) for _ in range(2))
                times[(n, workers)] = best
            rows.append([f"{n:,}", f"{times[(n, 1)]:.1f}", f"{times[(n, 2)]:.1f}",
                         f"{1000 * times[(n, 1)] / n:.2f}", f"{1000 * times[(n, 2)] / n:.2f}"])
            shutil.rmtree(src)
        growth = times[(sizes[-1], 2)] / times[(sizes[0], 2)]
        linear = growth <= 1.25 * sizes[-1] / sizes[0]
        faster = all(times[(n, 2)] <= times[(n, 1)] * 1.05 for n in sizes)
        plain, synced = fsync_cost(root)
        print(f"### many_files: one-row Parquet files, passthrough (best of 2, scale {scale})\n")
        print(md_table(["files", "1 worker s", "2 workers s", "ms/file (1)", "ms/file (2)"], rows))
        print(f"\nTime from {sizes[0]:,} to {sizes[-1]:,} files (2 workers): x{growth:.2f} for x{sizes[-1] // sizes[0]} "
              f"the files: linear {'yes' if linear else 'no'}; 2 workers at least as fast as 1 (within 5%): "
              f"{'yes' if faster else 'no'}.\n")
        print(f"Durability: 2,000 files of 4 kB written and renamed in {plain:.2f} s, with an fsync before each "
              f"rename {synced:.2f} s ({1000 * (synced - plain) / 2000:.2f} ms per file).")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
