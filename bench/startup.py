"""Start-up: the fixed cost of short `curate` commands in a fresh process (issue 34, item 1).

Each command runs ROUNDS times (default 10) in a new process (`python -m curate.cli ARGS`, the
console script's entry point), numba's cache already warm (one run first, not counted), for this
checkout and for a baseline commit (BENCH_STARTUP_BASELINE, default the commit before issue 34's
start-up work) in a git worktree, alternated so both see the same load. The figure compared with
the target is the median CPU seconds of the process (user + system; with `--workers 1` there are
no workers), with the median wall seconds beside it. Targets (issue 34): `curate --help` and
`curate stages` under 0.2 s; `curate dedup --workers 1` on a one-document input under 0.45 s;
`curate run pipelines/default.yaml` on one document under 0.8 s (its sample stage's compute
lowered to what one document can supply, so the plan is feasible).

Then the heavy packages each command imports (pandas, scipy, matplotlib, DuckDB, numba), read
from `python -X importtime` of the same command in this checkout.
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
from common import ROOT, load_average, md_table, scale_arg  # noqa: E402
from executors import default_pipeline  # noqa: E402
from quality import bench_models  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
BASELINE = os.environ.get("BENCH_STARTUP_BASELINE", "e202857")
WATCHED = ("pandas", "scipy", "matplotlib", "duckdb", "numba")
_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\S+)$")


def one_document(path: Path) -> Path:
    """A one-document Parquet input (a paragraph of English, enough words for every stage)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    text = ("The committee met on Tuesday evening to review the budget for the coming year. Members agreed "
            "that the library should stay open later during the week, and asked the treasurer to report on the "
            "cost of longer hours at the next meeting.\nSeveral residents spoke about the new bicycle lanes "
            "along the river. Most of them welcomed the change, although two shop owners worried about deliveries "
            "and parking near the market square.\nThe chair thanked the volunteers who repaired the playground "
            "fence last month, then closed the meeting shortly after nine o'clock. Minutes will be published on "
            "the town website before Friday, together with the draft budget and a short summary of questions.")
    pq.write_table(pa.table({"id": ["doc-0"], "text": [text]}), path / "part-0.parquet")
    return path


def one_document_pipeline(models: Path, path: Path) -> Path:
    """pipelines/default.yaml with the bench models and a compute budget one document can supply
    (the demo's 4e12 FLOPs at 8e5 parameters asks for 833K tokens; the document has ~170)."""
    import yaml

    default_pipeline(models, path)
    spec = yaml.safe_load(path.read_text())
    for stage in spec["stages"]:
        if stage["stage"] == "sample":
            stage["params"]["compute"] = 8.0e8  # 6 N D with N = 8e5: D = 167 tokens
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def timed(checkout: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds of the process and its children, wall seconds) of one run of `curate ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(checkout)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"curate {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def heavy_imports(args: list[str], cwd: Path) -> str:
    """The watched packages the command imports, with the cumulative time (ms) of the largest import
    of the package or one of its submodules, from
    `python -X importtime` (the command run through `python -m curate.cli`)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "curate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"curate {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    found: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = _LINE.search(line)
        # at any depth; an import refused while hidden (curate/lean_imports.py) takes no time and is no import
        top = m.group(2).split(".")[0] if m else ""
        if top in WATCHED and int(m.group(1)) >= 1000:  # the package or its largest submodule import
            found[top] = max(found.get(top, 0.0), int(m.group(1)) / 1000)
    return ", ".join(f"{name} ({ms:.0f} ms)" for name, ms in found.items()) or "none"


def main() -> None:
    scale_arg()  # start-up does not depend on the corpus size; the flag is accepted like every bench's
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-startup-"))
    base = tmp / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), BASELINE], cwd=ROOT, check=True)
    try:
        src = one_document(tmp / "in")
        pipe = one_document_pipeline(bench_models(), tmp / "default.yaml")
        jobs = [
            ("curate --help", ["--help"], 0.2),
            ("curate stages", ["stages"], 0.2),
            ("curate dedup --workers 1, one document",
             ["dedup", "--input", str(src), "--output", str(tmp / "dedup"), "--workers", "1", "--overwrite"], 0.45),
            ("curate run pipelines/default.yaml --workers 1, one document",
             ["run", str(pipe), "--input", str(src), "--output", str(tmp / "run"), "--workers", "1", "--overwrite"],
             0.8),
        ]
        rows = []
        for name, args, target in jobs:
            samples: dict[str, list[tuple[float, float]]] = {"baseline": [], "this": []}
            for checkout in (base, ROOT):
                timed(checkout, args, tmp)  # numba's cache and the page cache warm; not counted
            for _ in range(ROUNDS):
                for side, checkout in (("baseline", base), ("this", ROOT)):
                    samples[side].append(timed(checkout, args, tmp))
            (b_cpu, b_wall), (t_cpu, t_wall) = (_medians(samples[side]) for side in ("baseline", "this"))
            rows.append([name, f"{b_cpu:.3f}", f"{t_cpu:.3f}", f"{b_wall:.3f}", f"{t_wall:.3f}", f"< {target}",
                         "yes" if t_cpu < target else "no", heavy_imports(args, tmp)])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"### startup: fixed cost of short commands, this checkout vs {BASELINE} (median of {ROUNDS} fresh "
          f"processes each, alternated, warm numba cache; load {load_average()} at the end)\n")
    print(md_table(["command", f"{BASELINE} CPU s", "CPU s", f"{BASELINE} wall s", "wall s", "target CPU s", "met",
                    "heavy imports now (-X importtime, cumulative)"], rows))


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(c for c, _ in samples), statistics.median(w for _, w in samples)


if __name__ == "__main__":
    main()
