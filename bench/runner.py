"""Runner overhead: this checkout against a baseline commit, on the same corpus in the same run.

Two jobs: the pass-through pipeline on one worker (the I/O path: read, checks, write) and the
whole default pipeline on two workers (every stage, five combines, the sampler). Each job runs
in a fresh process of each checkout, alternating baseline and this checkout five times; the best
wall time of each is kept (the least disturbed by other load). The baseline is a git worktree of
BENCH_BASELINE (default: the commit before the runner was rebuilt around the work store).
Target (the runner rebuild): both within 5% of the baseline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpus, md_table, scale_arg  # noqa: E402
from executors import default_pipeline  # noqa: E402
from quality import bench_models  # noqa: E402

BASELINE = os.environ.get("BENCH_BASELINE", "e9d916e")
CANDIDATE = os.environ.get("BENCH_CANDIDATE")  # a commit to measure instead of this checkout
ROUNDS = 5

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


def _run(checkout: Path, job: str, src: Path, out: Path, pipe: Path) -> float:
    r = subprocess.run([sys.executable, "-c", JOB, str(checkout), job, str(src), str(out), str(pipe)],
                       capture_output=True, text=True, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
    if r.returncode != 0:
        raise RuntimeError(f"{checkout} {job}: {r.stderr[-2000:]}")
    return float(r.stdout.strip().splitlines()[-1])


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
        best: dict[tuple[str, str], float] = {}
        for job, src in jobs.items():
            for _ in range(ROUNDS):
                for side, checkout in (("baseline", base), ("this", this)):
                    took = _run(checkout, job, src, tmp / f"out-{side}", pipe)
                    best[(job, side)] = min(best.get((job, side), float("inf")), took)
        rows = []
        for job, src in jobs.items():
            b, t = best[(job, "baseline")], best[(job, "this")]
            rows.append([job, f"{sum(1 for _ in src.glob('*.parquet'))} shards", f"{b:.2f}", f"{t:.2f}",
                         f"{t / b:.3f}", "yes" if t <= 1.05 * b else "no"])
        print(f"### runner: {name} vs {BASELINE} (best of {ROUNDS}, alternated)\n")
        print(f"Pass-through: {n_docs:,} documents, 1 worker. Default pipeline: {n_default:,} documents, 2 workers, "
              "the demo models (bench/.cache).\n")
        print(md_table(["job", "input", f"{BASELINE} s", f"{name} s", "ratio", "within 5%"], rows))
    finally:
        for tree in (base, this) if CANDIDATE else (base,):
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
