"""Runner overhead: this checkout against a baseline commit, on the same corpus in the same run.

Two jobs: the pass-through pipeline on one worker (the I/O path: read, checks, write) and the
whole default pipeline on two workers (every stage, its combines, the sampler). Each job runs in
a fresh process of each checkout, alternating baseline and this checkout ROUNDS times; the
figure compared is the median CPU seconds of the process tree (user + system of the job and its
workers: what the work costs, whatever else the shared machine runs), with the median wall time
beside it. The baseline is a git worktree of BENCH_BASELINE (default: the commit before the
extension-point rebuild of issue 27). Target: both within 5% of the baseline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpus, load_average, md_table, scale_arg  # noqa: E402
from executors import default_pipeline  # noqa: E402
from quality import bench_models  # noqa: E402

BASELINE = os.environ.get("BENCH_BASELINE", "d2e4561")
CANDIDATE = os.environ.get("BENCH_CANDIDATE")  # a commit to measure instead of this checkout
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))

JOB = """
import sys, time
sys.path.insert(0, sys.argv[1])
from curate.api import Pipeline
job, src, out, pipe = sys.argv[2:6]
p = Pipeline.from_stages(["passthrough"]) if job == "passthrough" else Pipeline.from_yaml(pipe)
t0 = time.perf_counter()
p.run(src, out, workers=1 if job == "passthrough" else 2, overwrite=True)
print(time.perf_counter() - t0)
"""


def _run(checkout: Path, job: str, src: Path, out: Path, pipe: Path) -> tuple[float, float]:
    """(CPU seconds of the job's process tree, wall seconds of the run) of one job in a fresh process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, "-c", JOB, str(checkout), job, str(src), str(out), str(pipe)],
                       capture_output=True, text=True, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"{checkout} {job}: {r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, float(r.stdout.strip().splitlines()[-1])


def _list_pipeline(path: Path) -> Path:
    """The default pipeline without its named sinks (the last stage's rows go to OUTPUT/), so a
    baseline from before pipelines were graphs runs it too and both sides do the same work."""
    import yaml

    spec = yaml.safe_load(path.read_text())
    spec.pop("outputs", None)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def main() -> None:
    scale = scale_arg()
    n_docs = 100_000 if scale == "small" else 1_000_000
    n_default = 20_000 if scale == "small" else 200_000
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-runner-"))
    base = tmp / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), BASELINE], cwd=ROOT, check=True)
    this, name = ROOT, "this checkout"
    if CANDIDATE:
        this, name = tmp / "candidate", CANDIDATE
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(this), CANDIDATE], cwd=ROOT, check=True)
    try:
        pipe = _list_pipeline(default_pipeline(bench_models(), tmp / "default.yaml"))
        jobs = {"passthrough": corpus(n_docs), "default": corpus(n_default)}
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for job, src in jobs.items():
            for _ in range(ROUNDS):
                for side, checkout in (("baseline", base), ("this", this)):
                    runs.setdefault((job, side), []).append(_run(checkout, job, src, tmp / f"out-{side}", pipe))
        rows = []
        for job, src in jobs.items():
            (b_cpu, b_wall), (t_cpu, t_wall) = (_medians(runs[(job, side)]) for side in ("baseline", "this"))
            rows.append([job, f"{sum(1 for _ in src.glob('*.parquet'))} shards", f"{b_cpu:.2f}", f"{t_cpu:.2f}",
                         f"{t_cpu / b_cpu:.3f}", "yes" if t_cpu <= 1.05 * b_cpu else "no", f"{b_wall:.2f}",
                         f"{t_wall:.2f}"])
        print(f"### runner: {name} vs {BASELINE} (median of {ROUNDS}, alternated; load {load_average()})\n")
        print(f"Pass-through: {n_docs:,} documents, 1 worker. Default pipeline: {n_default:,} documents, 2 workers, "
              "the demo models (bench/.cache).\n")
        print(md_table(["job", "input", f"{BASELINE} CPU s", f"{name} CPU s", "CPU ratio", "within 5%",
                        f"{BASELINE} wall s", f"{name} wall s"], rows))
    finally:
        for tree in (base, this) if CANDIDATE else (base,):
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    import statistics

    return statistics.median(c for c, _ in samples), statistics.median(w for _, w in samples)


if __name__ == "__main__":
    main()
