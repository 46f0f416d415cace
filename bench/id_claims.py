"""What it costs that only rows passing the read claim their id (issue 35, finding 7).

The id pre-pass reads ids alone; under ``--on-error skip`` the runner then settles the check
(curate.pipeline.id_check.settle): a duplicate whose first occurrence failed the read moves to the
next readable occurrence, and the read runs again for the tasks whose duplicates changed. Three
inputs, the same documents each, run with the pass-through pipeline on one worker:

- clean: the generated corpus and a ninth file repeating ids of its first shard (no failed rows:
  the check is not settled at all);
- settled, nothing moves: the first shard has a damaged row group (text column), the ninth file
  repeats ids of an undamaged group (settle reads the duplicates, changes nothing);
- settled, ids move: the ninth file repeats ids of the damaged group (settle moves them and the
  ninth file's task is read again).

The figure is the median CPU seconds of the process (user + system), alternated rounds, wall
time beside it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpus, load_average, md_table, scale_arg  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
GROUP_ROWS = 500
REPEATS = 400  # ids the ninth file repeats


def _inputs(src: Path, tmp: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = sorted(src.glob("*.parquet"))
    first = pq.read_table(shards[0])
    made = {}
    for name, damaged, start in (("clean", False, 0), ("settled, nothing moves", True, 0),
                                 ("settled, ids move", True, GROUP_ROWS)):
        d = tmp / name.replace(", ", "-").replace(" ", "_")
        d.mkdir()
        for s in shards[1:]:
            shutil.copy(s, d / s.name)
        path = d / shards[0].name
        pq.write_table(first, path, row_group_size=GROUP_ROWS)
        if damaged:  # row group 1's text pages: its ids stay readable, its rows fail the read
            meta = pq.ParquetFile(path).metadata.row_group(1).column(first.schema.get_field_index("text"))
            data = bytearray(path.read_bytes())
            data[meta.data_page_offset:meta.data_page_offset + 16] = b"\xff" * 16
            path.write_bytes(bytes(data))
        ids = first.column("id").slice(start, REPEATS)
        pq.write_table(pa.table({"id": ids, "text": pa.array([f"a readable copy of {i}" for i in ids.to_pylist()])}),
                       d / "zz-repeats.parquet")
        made[name] = d
    return made


def _run(src: Path, out: Path, pipe: Path) -> tuple[float, float]:
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipe),
                        "--input", str(src), "--output", str(out), "--overwrite", "--on-error", "skip", "--workers",
                        "1", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    scale = scale_arg()
    n_docs = 40_000 if scale == "small" else 1_000_000
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-idclaims-"))
    try:
        inputs = _inputs(corpus(n_docs), tmp)
        pipe = tmp / "passthrough.yaml"
        pipe.write_text("stages:\n  - stage: passthrough\n")
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in inputs}
        for _ in range(ROUNDS):
            for name, src in inputs.items():
                runs[name].append(_run(src, tmp / "out", pipe))
        clean = statistics.median(c for c, _ in runs["clean"])
        rows = []
        for name, samples in runs.items():
            cpu, wall = statistics.median(c for c, _ in samples), statistics.median(w for _, w in samples)
            rows.append([name, f"{cpu:.2f}", f"{cpu / clean:.3f}", f"{wall:.2f}"])
        print(f"### id_claims: rows that fail the read claim no id (median of {ROUNDS}, alternated; "
              f"load {load_average()})\n")
        print(f"Pass-through, {n_docs:,} documents in 8 shards + {REPEATS} repeated ids, --on-error skip, 1 worker.\n")
        print(md_table(["input", "CPU s", "CPU vs clean", "wall s"], rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
