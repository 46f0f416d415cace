"""Cleaning benchmarks: c4_clean against datatrove, decontaminate against a plain reference,
line_dedup time and memory.

- c4_clean: our stage next to datatrove's ``C4QualityFilter`` (default parameters; its sentence
  count uses a blank spaCy English pipeline) on generated pages (curate.sample_pages, every
  kind of line C4 acts on) and on the generated corpus. Speed in MB of text per CPU-second of
  this process (one core, Arrow single-threaded); agreement = share of documents with the same
  output (the same cleaned text, or dropped by both). Also with the sentence rule off on both
  sides, where the line pass must agree exactly. Target (issue 19): >= 10x, >= 99.5 %.
- decontaminate: our stage next to the rule written plainly in Python (sets of word n-gram
  tuples, curate's reference word segmentation): documents per CPU-second and whether the
  decisions are identical. Benchmark: passages cut from other generated documents; a tenth of the
  corpus quotes one of them.
- line_dedup: the whole stage through the runner (2 workers, Parquet in and out) on the generated
  corpus; wall time and peak memory of the process tree above its post-import baseline.

Run: ``python bench/cleaning.py --scale small|full``; prints Markdown on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PeakMemory, corpus, md_table, scale_arg  # noqa: E402
from quality import load_texts, run_ours, timed  # noqa: E402

C4_SCALES = {"small": 3_000, "full": 20_000}  # generated pages, and as many corpus documents
DECON_SCALES = {"small": 3_000, "full": 20_000}
LINE_DEDUP_SCALES = {"small": (100_000,), "full": (100_000, 1_000_000)}
MEMORY_FLAG = "--memory-run"


# --------------------------------------------------------------------------- c4_clean
def datatrove_c4(texts: list[str], **params: Any) -> list[str | None]:
    """datatrove's C4QualityFilter output per text: the cleaned text, or None if dropped or left
    empty (datatrove keeps an empty document; c4_clean rejects it as ``c4_clean:empty``)."""
    from datatrove.data import Document
    from datatrove.pipeline.filters.c4_filters import C4QualityFilter

    flt = C4QualityFilter(**params)
    out: list[str | None] = []
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        out.append(doc.text if flt.filter(doc) is True and doc.text else None)
    return out


def ours_c4(table: Any, **params: Any) -> list[str | None]:
    from curate import schema

    out = run_ours("c4_clean", table, params)
    texts = out.column(schema.TEXT).to_pylist()
    reasons = out.column(schema.REJECT_REASON).to_pylist()
    return [None if r else t for t, r in zip(texts, reasons)]


def c4_section(scale: str) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    from curate import schema
    from curate.sample_pages import c4_pages

    pa.set_cpu_count(1)
    n = C4_SCALES[scale]
    inputs = {"generated pages": pa.table({schema.ID: [str(i) for i in range(n)], schema.TEXT: c4_pages(n, seed=7)}),
              "generated corpus": load_texts(n)}
    ours_c4(inputs["generated pages"].slice(0, 64))  # compile the kernels outside the timing
    datatrove_c4(["Warm up the spaCy pipeline. It loads once."] * 2)
    rows = []
    for label, table in inputs.items():
        texts = table.column(schema.TEXT).to_pylist()
        mb = pc.sum(pc.binary_length(table.column(schema.TEXT))).as_py() / 1e6
        t_ours, ours = timed(lambda table=table: ours_c4(table), 3)
        t_dt, theirs = timed(lambda texts=texts: datatrove_c4(texts), 1)
        same = np.mean([a == b for a, b in zip(ours, theirs)])
        lines_ours = np.mean([a == b for a, b in zip(ours_c4(table, min_sentences=None),
                                                     datatrove_c4(texts, min_num_sentences=-1))])
        rows.append([label, len(texts), f"{mb / t_ours:.1f}", f"{mb / t_dt:.2f}", f"{t_dt / t_ours:.0f}x",
                     f"{same:.2%}", f"{lines_ours:.2%}",
                     f"{sum(o is None for o in ours)} / {sum(t is None for t in theirs)}"])
    return "\n".join([
        "### c4_clean vs datatrove C4QualityFilter", "",
        "One core (CPU seconds of this process, Arrow single-threaded); ours best of 3, datatrove once.",
        "Identical = same cleaned text or dropped by both; 'line pass' = the same with the sentence",
        "rule off on both sides.", "",
        md_table(["input", "documents", "ours MB/s", "datatrove MB/s", "speed-up", "identical",
                  "identical, line pass", "dropped ours / datatrove"], rows), ""])


# --------------------------------------------------------------------------- decontaminate
def reference_contaminated(texts: list[str], bench: list[str], n: int, min_overlap: int) -> list[bool]:
    """The rule written plainly: sets of word n-gram tuples (a shorter text is one n-gram)."""
    from curate.text.words import words

    def grams(text: str) -> set[tuple[str, ...]]:
        w = words(text)
        return {tuple(w)} if 0 < len(w) < n else {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}

    index: set[tuple[str, ...]] = set()
    for b in bench:
        index |= grams(b)
    return [len(grams(t) & index) >= min_overlap for t in texts]


def decontaminate_section(scale: str) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate import schema

    pa.set_cpu_count(1)
    n = DECON_SCALES[scale]
    table = load_texts(2 * n)
    rng = np.random.default_rng(0)
    source = table.column(schema.TEXT).to_pylist()[n:]
    bench = []
    for text in source[: n // 5]:  # passages of 30-80 words from documents outside the corpus
        w = text.split()
        start = int(rng.integers(0, max(1, len(w) - 30)))
        bench.append(" ".join(w[start:start + int(rng.integers(30, 80))]))
    texts = table.column(schema.TEXT).to_pylist()[:n]
    for i in rng.choice(n, size=n // 10, replace=False):  # a tenth quote a passage, in capitals
        texts[i] = texts[i] + "\n" + bench[int(rng.integers(len(bench)))].upper()
    docs = pa.table({schema.ID: table.column(schema.ID).slice(0, n), schema.TEXT: texts})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bench_file = Path(tmp) / "bench.parquet"
        pq.write_table(pa.table({"text": bench}), bench_file)
        for ngram in (13, 8):
            params = {"benchmarks": {"b": str(bench_file)}, "ngram": ngram, "mode": "annotate"}
            run_ours("decontaminate", docs.slice(0, 16), params)  # build the index, compile
            t_ours, out = timed(lambda params=params: run_ours("decontaminate", docs, params), 3)
            ours = [b is not None for b in out.column(schema.CONTAMINATION_BENCHMARK).to_pylist()]
            t_ref, ref = timed(lambda ngram=ngram: reference_contaminated(texts, bench, ngram, 1), 1)
            rows.append([ngram, n, len(bench), f"{n / t_ours:,.0f}", f"{n / t_ref:,.0f}", f"{t_ref / t_ours:.0f}x",
                         sum(ours), "yes" if ours == ref else f"no ({sum(a != b for a, b in zip(ours, ref))} differ)"])
    return "\n".join([
        "### decontaminate vs a plain-Python reference of the same rule", "",
        "One core (CPU seconds); ours best of 3 (the index is built before timing: once per process in "
        "a run), the reference once (its index build included, a small share).", "",
        md_table(["n-gram", "documents", "benchmark texts", "ours docs/s", "reference docs/s", "speed-up",
                  "contaminated", "identical decisions"], rows), ""])


# --------------------------------------------------------------------------- line_dedup
def line_dedup_run(src: Path, out: Path) -> dict[str, float]:
    """line_dedup of `src` with 2 workers in a fresh process: peak MB above its baseline, seconds."""
    proc = subprocess.run([sys.executable, __file__, MEMORY_FLAG, str(src), str(out)], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _memory_child(src: Path, out: Path) -> None:
    import curate.stages.dedup.lines  # noqa: F401 - the baseline includes the library
    from curate.api import Pipeline

    with PeakMemory() as peak:
        t0 = time.perf_counter()
        result = Pipeline.from_stages(["line_dedup"]).run(src, out, workers=2, overwrite=True)
        seconds = time.perf_counter() - t0
    stage = result.stages[-1]
    print(json.dumps({"peak_mb": peak.above_baseline_mb, "seconds": seconds, "mb": stage["bytes_in"] / 1e6,
                      "units": stage["counters"].get("line_dedup:units_removed", 0),
                      "bytes": stage["counters"].get("line_dedup:bytes_removed", 0)}))


def line_dedup_section(scale: str) -> str:
    rows = []
    for n in LINE_DEDUP_SCALES[scale]:
        src = corpus(n)
        with tempfile.TemporaryDirectory() as tmp:
            r = line_dedup_run(src, Path(tmp) / "out")
        rows.append([f"{n:,}", f"{r['mb']:,.0f}", f"{r['seconds']:.1f}", f"{r['mb'] / r['seconds']:.1f}",
                     f"{r['peak_mb']:,.0f}", f"{r['units']:,}", f"{r['bytes'] / 1e6:,.1f}"])
    return "\n".join([
        "### line_dedup through the runner (2 workers, default parameters: lines, max_count 1)", "",
        md_table(["documents", "MB", "seconds", "MB/s", "peak MB", "lines removed", "MB removed"], rows), ""])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == MEMORY_FLAG:
        _memory_child(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    scale = scale_arg()
    print(c4_section(scale))
    print(decontaminate_section(scale))
    print(line_dedup_section(scale))


if __name__ == "__main__":
    main()
