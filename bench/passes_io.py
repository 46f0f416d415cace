"""Bytes moved per input byte, and the copy pass a global stage first used to cost (issue 20).

1. A global stage first (`minhash_dedup` on the run's input, as `curate dedup` runs it): its apply
   pass either reads the input files again (what curate does for local Parquet) or reads back a
   copy the read pass wrote under ``_curate/work/streams/read/`` (what it does otherwise). Both ways on
   the same corpus, as Parquet and as JSONL, on the local disk and on an S3 API server on
   loopback (input and output both there), one worker, in this process (the choice is forced by
   replacing curate.pipeline.runner.rereads_input; gzipped JSONL on the local disk only): wall seconds (best of 2), and for local runs
   the bytes read and written through read()/write() calls (/proc/self/io rchar, wchar), per byte
   of input file. This is the measurement behind ``rereads_input``'s rule.
2. Every pipeline in pipelines/ and `curate dedup`, as a user runs them (`curate` in a fresh
   process, one worker, start-up included) on a local Parquet corpus: bytes read and written per
   input byte. Python reading its own modules at start-up is in these figures (a few tens of MB);
   the row "start-up only" gives that fixed cost on a one-document input.

Sizes: small 20k documents (8 shards); full 200k documents (16 shards).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, ROOT, corpus, load_average, md_table, run_curate, s3_server, scale_arg  # noqa: E402


def _io() -> dict[str, int]:
    with open("/proc/self/io") as fh:
        return {k: int(v) for k, v in (line.strip().split(": ") for line in fh)}


def _input_bytes(src: Path) -> int:
    return sum(p.stat().st_size for p in src.iterdir() if p.is_file() and not p.name.startswith("_"))


@contextlib.contextmanager
def _rereads(choice: bool) -> Iterator[None]:
    from curate.pipeline import runner

    saved = runner.rereads_input
    runner.rereads_input = lambda tasks, output_is_local: choice
    try:
        yield
    finally:
        runner.rereads_input = saved


def _dedup_once(src: str, out: str, choice: bool) -> dict[str, float]:
    from curate.api import Pipeline

    pipe = Pipeline.from_stages([("minhash_dedup", {})])
    with _rereads(choice):
        io0, t0 = _io(), time.perf_counter()
        pipe.run(src, out, workers=1, overwrite=True)
        seconds, io1 = time.perf_counter() - t0, _io()
    return {"seconds": seconds, "read": io1["rchar"] - io0["rchar"], "written": io1["wchar"] - io0["wchar"]}


def _best(src: str, out: str, choice: bool) -> dict[str, float]:
    runs = [_dedup_once(src, out, choice) for _ in range(2)]
    return min(runs, key=lambda r: r["seconds"])


def _upload(src: Path, bucket: str, prefix: str) -> str:
    import s3fs

    fs = s3fs.S3FileSystem()
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    for p in sorted(src.iterdir()):
        if p.is_file() and not p.name.startswith("_"):
            fs.put_file(str(p), f"{bucket}/{prefix}/{p.name}")
    return f"s3://{bucket}/{prefix}"


def copy_pass_section(n_docs: int, shards: int) -> str:
    from curate.pipeline import runner

    runner.rereads_input  # noqa: B018 (imported before the timings)
    rows: list[list[Any]] = []
    ratios: dict[str, float] = {}
    sources = {fmt: corpus(n_docs, seed=7, n_shards=shards, fmt=fmt) for fmt in ("parquet", "jsonl", "jsonl.gz")}
    _dedup_once(str(sources["parquet"]), tempfile.mkdtemp(prefix="warm-"), True)  # kernels loaded
    with tempfile.TemporaryDirectory(prefix="passes-io-") as tmp:
        for fmt, src in sources.items():
            size = _input_bytes(src)
            again = _best(str(src), f"{tmp}/again-{fmt}", True)
            copy = _best(str(src), f"{tmp}/copy-{fmt}", False)
            ratios[f"local {fmt}"] = copy["seconds"] / again["seconds"]
            for label, r in (("read again", again), ("copy", copy)):
                rows.append([f"local {fmt}", label, r["seconds"], r["read"] / size, r["written"] / size])
        with s3_server():
            for fmt, src in list(sources.items())[:2]:
                uri = _upload(src, "bench-passes", f"in-{fmt}")
                again = _best(uri, f"s3://bench-passes/again-{fmt}", True)
                copy = _best(uri, f"s3://bench-passes/copy-{fmt}", False)
                ratios[f"s3 {fmt}"] = copy["seconds"] / again["seconds"]
                rows.append([f"s3 (loopback) {fmt}", "read again", again["seconds"], "", ""])
                rows.append([f"s3 (loopback) {fmt}", "copy", copy["seconds"], "", ""])
    table = md_table(["input", "apply pass reads", "seconds", "read / input byte", "written / input byte"], rows)
    verdict = md_table(["input", "copy time / read-again time"], [[k, v] for k, v in ratios.items()])
    return (f"{n_docs:,} generated documents in {shards} shards; `minhash_dedup` (defaults), one worker, "
            f"in-process (kernels loaded first), best of 2.\n\n{table}\n\n{verdict}\n")


def _models() -> Path:
    models = ROOT / "models"
    if (models / "quality.bin").exists() and (models / "domain.bin").exists():
        return models
    models = CACHE / "models"
    if not (models / "quality.bin").exists():
        subprocess.run([sys.executable, "-m", "curate.train_models", "--out", str(models)], cwd=ROOT, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    return models


def pipelines_section(n_docs: int, shards: int) -> str:
    src = corpus(n_docs, seed=7, n_shards=shards)
    size = _input_bytes(src)
    models = _models()
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="passes-io-") as tmp:
        tiny = Path(tmp) / "tiny"
        tiny.mkdir()
        shutil.copy(next(p for p in sorted(src.iterdir()) if p.suffix == ".parquet"), tiny / "x.parquet")
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(tiny / "x.parquet").slice(0, 1), tiny / "x.parquet")
        fixed = run_curate(["dedup", "--input", str(tiny), "--output", f"{tmp}/fixed", "--workers", "1", "--quiet"])
        rows.append(["start-up only (`curate dedup`, 1 document; absolute MB)", f"{fixed['seconds']:.1f}",
                     fixed["read"] / 1e6, fixed["written"] / 1e6])
        commands = [("`curate dedup`", ["dedup"])]
        for yaml in sorted((ROOT / "pipelines").glob("*.yaml")):
            text = re.sub(r"\bmodels/", f"{models}/", yaml.read_text())
            path = Path(tmp) / yaml.name
            path.write_text(text)
            commands.append((f"`curate run pipelines/{yaml.name}`", ["run", str(path)]))
        for label, args in commands:
            r = run_curate([*args, "--input", str(src), "--output", f"{tmp}/out", "--overwrite", "--workers", "1",
                            "--quiet"])
            rows.append([label, f"{r['seconds']:.1f}", r["read"] / size, r["written"] / size])
    table = md_table(["command", "seconds", "read / input byte", "written / input byte"], rows)
    return (f"{n_docs:,} generated documents, {size / 1e6:,.1f} MB of Parquet in {shards} shards; one worker, "
            f"a fresh process each (start-up included).\n\n{table}\n")


def main() -> None:
    scale = scale_arg()
    n_docs, shards = (20_000, 8) if scale == "small" else (200_000, 16)
    print("### Passes and bytes moved (bench/passes_io.py)\n")
    print(f"Load average before: {load_average()}\n")
    print("#### A global stage first: the input read again, or a copy read back\n")
    print(copy_pass_section(n_docs, shards))
    print("#### Bytes read and written per input byte, per pipeline\n")
    print(pipelines_section(n_docs, shards))


if __name__ == "__main__":
    main()
