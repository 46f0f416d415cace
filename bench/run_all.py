"""Run every benchmark in bench/ and append their Markdown sections to BENCHMARKS.md.

Each benchmark is a script `bench/<name>.py --scale small|full` that prints one Markdown section
to stdout. They run one after another (never in parallel) so they do not disturb each other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_rev, machine  # noqa: E402

BENCHES = ["startup", "io", "jsonl_read", "dedup", "quality", "cleaning", "pii", "url_filter", "planner", "executors", "runner", "passes_io",
           "many_files", "html_extract", "dedup_stdlib", "dedup_real", "pipeline", "scale",
           "tokenized_sinks", "tokenizer_loader"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["small", "full"], default=os.environ.get("BENCH_SCALE", "small"))
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args = parser.parse_args()
    names = [b for b in BENCHES if (ROOT / "bench" / f"{b}.py").exists() and (not args.only or b in args.only)]
    header = (f"\n## Run of {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, scale {args.scale}, "
              f"commit {git_rev()}\n\nMachine: {machine()}\n")
    sections = [header]
    failed = []
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--scale", args.scale],
                              capture_output=True, text=True, cwd=ROOT)
        took = time.perf_counter() - t0
        if proc.returncode != 0:
            failed.append(name)
            sys.stderr.write(proc.stderr[-4000:])
            sections.append(f"\n### {name}: FAILED (exit {proc.returncode})\n")
        else:
            sections.append("\n" + proc.stdout.strip() + f"\n\n_({name}: {took:,.0f} s)_\n")
        print(f"[bench] {name} done in {took:,.0f}s", file=sys.stderr, flush=True)
    text = "".join(sections)
    print(text)
    with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
        fh.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
