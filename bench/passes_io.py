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

3. Where the bytes go (issue 34): the default pipeline without its classifiers (as bench/scale.py
   builds it), in this process on one worker, warmed up first on 400 documents: bytes read and
   written per input byte in each pass and combine (/proc/self/io between the lines the run logs),
   the bytes each folder of OUTPUT holds at the end, CPU and wall seconds. Then the codecs a work
   stream could be written with (zstd level 1, the default level, 3; lz4; snappy; none): the
   run's largest stream and MinHash partials rewritten with each, bytes and CPU seconds to write and
   read them (best of 3).

Sizes: small 20k documents (8 shards); full 200k documents (16 shards) for sections 1-2, 100k
(8 shards: issue 34's target size) for section 3. ``BENCH_PASSES_ONLY=breakdown`` runs section 3 only.
"""

from __future__ import annotations

import contextlib
import logging
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
from common import (  # noqa: E402
    CACHE,
    ROOT,
    corpus,
    load_average,
    md_table,
    run_curate,
    run_graph_once,
    s3_server,
    scale_arg,
)


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


class _PassIo(logging.Handler):
    """/proc/self/io at every pass and combine line the run logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.marks: list[tuple[str, dict[str, int]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith(("pass ", "combine ")) and "skipped" not in msg:
            self.marks.append((msg.rsplit(" (", 1)[0] if msg.startswith("pass ") else msg.rstrip(" ."), _io()))


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _folder(rel: tuple[str, ...]) -> str:
    """What a file of OUTPUT is, for the breakdown: a sink, rejected/<node>, a stream, a node's partials or state."""
    if rel[0] != "_curate":
        return f"sink {rel[0]}/"
    if rel[1] == "work" and rel[2] == "streams":
        return f"work/streams/{rel[3]}/"
    if rel[1] == "work" and rel[2] == "stages":
        return f"work/stages/{rel[3]}/{rel[4]}/"
    return "/".join(rel[1:3]) + "/"


def breakdown_section(n_docs: int, shards: int) -> str:
    from scale import pipeline_without_classifiers

    from curate.executors.base import make_executor
    from curate.pipeline.settings import RunSettings
    from curate.pipeline.spec import load_graph
    from curate.store.storage import Storage

    src = corpus(n_docs, seed=1, n_shards=shards)
    size = _input_bytes(src)
    with tempfile.TemporaryDirectory(prefix="passes-io-") as tmp:
        graph = load_graph(pipeline_without_classifiers(n_docs, Path(tmp) / "p.yaml"), Storage())
        warm = load_graph(pipeline_without_classifiers(400, Path(tmp) / "warm.yaml"), Storage())
        settings = RunSettings.resolve(graph.settings)
        executor = make_executor("local", 1)
        logger, clock = logging.getLogger("curate"), _PassIo()
        level = logger.level
        try:
            run_graph_once(warm, corpus(400, n_shards=4), Path(tmp) / "warm", executor, settings)
            logger.addHandler(clock)
            logger.setLevel(logging.INFO)
            io0, cpu0, t0 = _io(), _cpu(), time.perf_counter()
            run_graph_once(graph, src, Path(tmp) / "out", executor, settings)
            wall, cpu, io1 = time.perf_counter() - t0, _cpu() - cpu0, _io()
        finally:
            logger.removeHandler(clock)
            logger.setLevel(level)
            executor.close()
        marks = [("before the first pass (manifest: the input's content hashes; schemas)", io0), *clock.marks,
                 ("end", io1)]
        steps = [[label, (b["rchar"] - a["rchar"]) / size, (b["wchar"] - a["wchar"]) / size]
                 for (label, a), (_, b) in zip(marks[:-1], marks[1:])]
        folders: dict[str, int] = {}
        out = Path(tmp) / "out"
        for p in out.rglob("*"):
            if p.is_file():
                key = _folder(p.relative_to(out).parts)
                folders[key] = folders.get(key, 0) + p.stat().st_size
        codecs = codec_rows(out)
    total = [(io1["rchar"] - io0["rchar"]) / size, (io1["wchar"] - io0["wchar"]) / size]
    rows = [[k, v / size] for k, v in sorted(folders.items(), key=lambda kv: -kv[1]) if v / size >= 0.001]
    return (f"Default pipeline without classifiers, {n_docs:,} generated documents, {size / 1e6:,.1f} MB of Parquet "
            f"in {shards} shards; one worker, in this process, warmed up first: **{total[0]:.2f} bytes read and "
            f"{total[1]:.2f} written per input byte**, {wall:.1f} s wall, {cpu:.1f} CPU s.\n\n"
            + md_table(["step (from its log line to the next)", "read / input byte", "written / input byte"], steps)
            + "\n\nWhat OUTPUT holds at the end, per input byte:\n\n"
            + md_table(["folder", "bytes / input byte"], rows)
            + "\n\nCodecs for work files (the largest stream and the MinHash partials of this run, rewritten "
              "in 8,192-row groups; best of 3):\n\n"
            + md_table(["file", "codec", "MB", "write CPU s", "read CPU s"], codecs) + "\n")


def codec_rows(out: Path) -> list[list[Any]]:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    work = out / "_curate" / "work"
    streams = sorted((work / "streams").iterdir(), key=lambda d: -sum(p.stat().st_size for p in d.glob("*.parquet")))
    rows: list[list[Any]] = []
    for label, folder in ((f"stream {streams[0].name}", streams[0]),
                          ("minhash_dedup partials", work / "stages" / "minhash_dedup" / "partials")):
        table = pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("*.parquet"))])
        for codec, level in (("zstd", 1), ("zstd", None), ("zstd", 3), ("lz4", None), ("snappy", None),
                             ("none", None)):
            best: list[float] = []
            for _ in range(3):
                buf = io.BytesIO()
                c0 = _cpu()
                pq.write_table(table, buf, compression=codec, compression_level=level, row_group_size=8192)
                c1 = _cpu()
                pq.read_table(io.BytesIO(buf.getvalue()))
                times = [c1 - c0, _cpu() - c1]
                best = times if not best else [min(a, b) for a, b in zip(best, times)]
            name = codec if level is None else f"{codec} level {level}"
            rows.append([label, name if (codec, level) != ("zstd", None) else "zstd (pyarrow's default level)",
                         len(buf.getvalue()) / 1e6, best[0], best[1]])
    return rows


def main() -> None:
    scale = scale_arg()
    n_docs, shards = (20_000, 8) if scale == "small" else (200_000, 16)
    print("### Passes and bytes moved (bench/passes_io.py)\n")
    print(f"Load average before: {load_average()}\n")
    if os.environ.get("BENCH_PASSES_ONLY") == "breakdown":
        print(breakdown_section(20_000 if scale == "small" else 100_000, 8))
        print(f"Load average after: {load_average()}\n")
        return
    print("#### A global stage first: the input read again, or a copy read back\n")
    print(copy_pass_section(n_docs, shards))
    print("#### Bytes read and written per input byte, per pipeline\n")
    print(pipelines_section(n_docs, shards))
    print("#### Where the bytes go: the default pipeline without classifiers (issue 34)\n")
    print(breakdown_section(20_000 if scale == "small" else 100_000, 8))
    print(f"Load average after: {load_average()}\n")


if __name__ == "__main__":
    main()
