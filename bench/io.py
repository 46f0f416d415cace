"""I/O floor: the pass-through pipeline (read, no-op stage, write) against pyarrow alone.

Both run on one core over the same generated Parquet shards. The floor reads each shard in
batches and writes it back with the same compression (zstd) on one thread; ours is
`curate run` with one `passthrough` stage and one worker, which also validates rows, checks ids
for duplicates and keeps the per-stage accounting. Throughput is MB of text per second.
Target (issue 2): ours >= 0.8 x the floor.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, corpus, md_table, scale_arg  # noqa: E402


def floor(src: Path, dst: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    for f in sorted(src.glob("*.parquet")):
        pf = pq.ParquetFile(f)
        with pq.ParquetWriter(dst / f.name, pf.schema_arrow, compression="zstd") as w:
            for batch in pf.iter_batches(batch_size=8192, use_threads=False):
                w.write_table(pa.Table.from_batches([batch]), row_group_size=65536)


def ours(src: Path, dst: Path) -> None:
    from curate.api import Pipeline

    Pipeline.from_stages(["passthrough"]).run(src, dst, workers=1, overwrite=True)


def text_mb(src: Path) -> float:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = 0
    for f in sorted(src.glob("*.parquet")):
        total += pc.sum(pc.binary_length(pq.read_table(f, columns=["text"]).column("text"))).as_py()
    return total / 1e6


def main() -> None:
    scale = scale_arg()
    n_docs = 100_000 if scale == "small" else 1_000_000
    src = corpus(n_docs)
    mb = text_mb(src)
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-io-"))
    try:
        (tmp / "floor").mkdir()
        t_floor = t_ours = float("inf")
        for _ in range(5):  # alternate, so both see the same background load; keep the best
            t_floor = min(t_floor, best_of(lambda: floor(src, tmp / "floor"), repeat=1))
            t_ours = min(t_ours, best_of(lambda: ours(src, tmp / "ours"), repeat=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [["pyarrow read + zstd write (floor)", f"{t_floor:.2f}", f"{mb / t_floor:.1f}", "1.00"],
            ["curate run, passthrough, 1 worker", f"{t_ours:.2f}", f"{mb / t_ours:.1f}", f"{t_floor / t_ours:.2f}"]]
    print(f"### io: pass-through pipeline vs the pyarrow floor ({n_docs:,} docs, {mb:,.0f} MB of text, 1 core)\n")
    print(md_table(["what", "seconds (best of 5, alternated)", "MB/s per core", "ratio to floor"], rows))
    print(f"\nTarget >= 0.80 of the floor: **{'met' if t_floor / t_ours >= 0.8 else 'not met'}** "
          f"({t_floor / t_ours:.2f}).")


if __name__ == "__main__":
    main()
