"""Start-up: the fixed cost of short `curate` commands in a fresh process (issue 34, item 1).

Each command runs ROUNDS times (default 10) as a user runs it: the `curate` console script of
this interpreter's environment, a new process every time, numba's cache already warm (one run
first, not counted). The figure compared with the target is the median CPU seconds of the
process (user + system, its workers included: with `--workers 1` there are none), with the
median wall seconds beside it. Targets (issue 34): `curate --help` and `curate stages` under
0.2 s; `curate dedup --workers 1` on a one-document input under 0.45 s; `curate run
pipelines/default.yaml` on one document under 0.8 s.

Then the modules each command imports that it should not need (pandas, scipy, matplotlib,
DuckDB), read from `python -X importtime` of the same command.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_average, md_table, scale_arg  # noqa: E402
from executors import default_pipeline  # noqa: E402
from quality import bench_models  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
CURATE = Path(sys.executable).parent / "curate"
WATCHED = ("pandas", "scipy", "matplotlib", "duckdb", "numba")
_TOP = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$")


def one_document(path: Path) -> Path:
    """A one-document Parquet input (a paragraph of English, enough words for every stage)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    text = ("The committee met on Tuesday to review the budget for the coming year. Members agreed that the "
            "library should stay open in the evenings, and asked the treasurer to report on the cost of "
            "longer hours at the next meeting.\n") * 3
    pq.write_table(pa.table({"id": ["doc-0"], "text": [text]}), path / "part-0.parquet")
    return path


def timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds of the process and its children, wall seconds) of one run of `curate ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([str(CURATE), *args], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"curate {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def heavy_imports(args: list[str], cwd: Path) -> str:
    """The watched packages the command imports, with their cumulative import time (ms), from
    `python -X importtime` (the command run through `python -m curate.cli`)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "curate.cli", *args], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"curate {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    found = {}
    for line in proc.stderr.splitlines():
        m = _TOP.search(line)
        if m and m.group(2) in WATCHED:
            found[m.group(2)] = int(m.group(1)) / 1000
    return ", ".join(f"{name} ({ms:.0f} ms)" for name, ms in found.items()) or "none"


def main() -> None:
    scale_arg()  # start-up does not depend on the corpus size; the flag is accepted like every bench's
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-startup-"))
    try:
        src = one_document(tmp / "in")
        models = bench_models()
        pipe = default_pipeline(models, tmp / "default.yaml")
        jobs = [
            ("curate --help", ["--help"], 0.2),
            ("curate stages", ["stages"], 0.2),
            ("curate dedup --workers 1, one document", ["dedup", "--input", str(src), "--output", str(tmp / "dedup"),
                                                       "--workers", "1", "--overwrite"], 0.45),
            ("curate run pipelines/default.yaml, one document",
             ["run", str(pipe), "--input", str(src), "--output", str(tmp / "run"), "--workers", "1", "--overwrite"],
             0.8),
        ]
        rows = []
        for name, args, target in jobs:
            timed(args, tmp)  # numba's cache and the OS's page cache warm; not counted
            samples = [timed(args, tmp) for _ in range(ROUNDS)]
            cpu = statistics.median(c for c, _ in samples)
            wall = statistics.median(w for _, w in samples)
            rows.append([name, f"{cpu:.3f}", f"{wall:.3f}", f"< {target}", "yes" if cpu < target else "no",
                         heavy_imports(args, tmp)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"### startup: fixed cost of short commands (median of {ROUNDS} fresh processes, warm numba cache; "
          f"load {load_average()})\n")
    print(md_table(["command", "CPU s", "wall s", "target CPU s", "met", "heavy imports (-X importtime)"], rows))


if __name__ == "__main__":
    main()
