"""MinHash dedup on real long documents, timed as a user times it (issue 20).

Corpus: the running Python's standard library (bench/common.py stdlib_corpus: every UTF-8 text
file, with its natural near duplicates), the same on every machine with that Python version; its
hash is printed. Parameters as bench/dedup.py: word 5-grams, 112 hashes, 14 bands x 8 rows,
threshold 0.8.

- curate: the whole `curate dedup --workers 1` command in a fresh process (start-up, imports,
  kernel loading from numba's cache, Parquet in and out, DuckDB buckets, union-find), best of 3;
  next to it the same command on a one-document input (the fixed cost).
- datasketch: MinHash(num_perm=112).update_batch over the same shingles (built outside the
  timing), MinHashLSH(14 x 8) insert + query, union-find and the keep rule, in memory, no I/O;
  rensa the same with RMinHash.from_token_sets and RMinHashLSH (14 bands of 8), one thread.
- Signatures per second per core on the same shingles: bench/dedup.py bench_signatures (curate's
  kernel from text and its MinHash loop alone, rensa from the same 64-bit shingle hashes and from
  shingle strings, datasketch).
- Quality: truth is an exact similarity join (every pair sharing a shingle, sparse matrix
  product, exact Jaccard of the shingle sets; curate's candidates play no part). Recall = share of
  pairs with J >= 0.9 whose documents end in one cluster; removal precision = share of removed
  documents with a J >= 0.7 twin in their cluster.
- Bytes read and written by the command (read()/write() calls, /proc/self/io) per byte of input
  Parquet.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import md_table, run_curate, stdlib_corpus, versions  # noqa: E402
from dedup import (  # noqa: E402
    NUM_PERM,
    SIGNATURE_HEADER,
    THRESHOLD,
    bench_signatures,
    datasketch_whole,
    load,
    quality,
    rensa_slot_profile,
    rensa_whole,
    signature_targets,
    text_mb,
    word_lists,
)

from curate.store.layout import DEFAULT_SINK  # noqa: E402

PEERS = ("numba", "numpy", "pyarrow", "duckdb", "rensa", "datasketch")


def dedup_cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return ["dedup", "--input", str(src), "--output", str(out), "--overwrite", "--workers", "1",
            "--threshold", str(THRESHOLD), *extra]


def one_doc_corpus(src: Path, dst: Path) -> Path:
    import pyarrow.parquet as pq

    dst.mkdir(parents=True, exist_ok=True)
    pq.write_table(pq.read_table(next(iter(sorted(src.glob("*.parquet"))))).slice(0, 1), dst / "one.parquet")
    return dst


def main() -> None:
    src, corpus_hash, n_docs = stdlib_corpus()
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-stdlib-"))
    try:
        ids, texts = load(src)
        mb = text_mb(texts)
        parquet_bytes = sum(f.stat().st_size for f in src.glob("*.parquet"))
        run_curate(dedup_cmd(src, tmp / "warm"))  # numba's cache filled outside the timing
        runs = [run_curate(dedup_cmd(src, tmp / "ours")) for _ in range(3)]
        best = min(runs, key=lambda r: r["seconds"])
        fixed = min((run_curate(dedup_cmd(one_doc_corpus(src, tmp / "one"), tmp / "one-out")) for _ in range(3)),
                    key=lambda r: r["seconds"])
        sig_rows, sig = bench_signatures(texts, mb, with_datatrove=False)
        slots = rensa_slot_profile()
        lengths = [len(t) for t in texts.to_pylist()]
        word_rows = word_lists(texts).to_pylist()
        t_ds, c_ds, ds_removed = datasketch_whole(ids, word_rows, lengths)
        t_rs, c_rs, rs_removed = rensa_whole(ids, word_rows, lengths)
        kept = _count_rows(tmp / "ours")
        _, q = quality(src, tmp / "quality", verify=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ratio = c_ds / best["cpu"]  # CPU seconds: on a shared machine wall time measures the neighbours
    print(f"### dedup_stdlib: `curate dedup` on real long documents (Python {sys.version.split()[0]} standard "
          "library)\n")
    print(f"{n_docs:,} files, {mb:,.1f} MB of text ({parquet_bytes / 1e6:,.1f} MB of Parquet), corpus sha256 "
          f"`{corpus_hash}`; one worker, threshold {THRESHOLD}, 14 bands x 8 rows of 5-gram MinHash. "
          f"{versions(*PEERS)}.\n")
    print("Signatures per second per core on the same shingles:\n")
    print(md_table(SIGNATURE_HEADER, sig_rows))
    print(f"\nWhy rensa's loop is faster (bench/dedup.py rensa_slot_profile, 100,000 one-token sets): "
          f"{slots['share_low']:.1%} of its slot values lie below 3/4 of the 32-bit range (a uniform "
          f"family: 75%), about {slots['low_slots_per_token']:.1f} of the {NUM_PERM} slots per token; "
          f"digest of the whole set = slot-wise minimum of the one-token digests: {slots['full_set']}. "
          "So every token still counts, but once a document's minima are all low a token can only "
          "change its few low slots, and a kernel may skip computing the others; curate's family "
          "draws all 112 values of a token uniformly and independently, so each must be computed "
          "(see docs/dedup.md).\n")
    print(md_table(["what", "wall s", "CPU s", "MB per CPU s", "datasketch CPU / this"], [
        ["`curate dedup --workers 1` (whole command, fresh process, best of 3)", best["seconds"], best["cpu"],
         mb / best["cpu"], ratio],
        ["  of which fixed cost (same command, 1-document input)", fixed["seconds"], fixed["cpu"], "", ""],
        ["datasketch update_batch + MinHashLSH + union-find (no I/O, no shingling)", t_ds, c_ds, mb / c_ds, 1.0],
        ["rensa RMinHash + RMinHashLSH + union-find (no I/O, no shingling)", t_rs, c_rs, mb / c_rs, c_ds / c_rs],
    ]))
    print(f"\ncurate removed {n_docs - kept:,} documents, datasketch {ds_removed:,}, rensa {rs_removed:,} "
          "(datasketch and rensa: without the signature check, their own hash families).\n")
    print(md_table(["bytes per input Parquet byte", "read", "written"],
                   [["`curate dedup --workers 1`", best["read"] / parquet_bytes, best["written"] / parquet_bytes],
                    ["  net of the fixed cost", (best["read"] - fixed["read"]) / parquet_bytes,
                     (best["written"] - fixed["written"]) / parquet_bytes],
                    ["  fixed cost (1-document input, absolute MB)", fixed["read"] / 1e6, fixed["written"] / 1e6]]))
    print(f"\nQuality against the exact similarity join ({q['pairs_0.5']:,} pairs with J >= 0.5):\n")
    targets = [
        *signature_targets(sig),
        ("whole command >= 10x datasketch (CPU s)", ratio >= 10, f"{ratio:.1f}x"),
        ("recall >= 0.99 at J >= 0.9", q["recall_0.9"] >= 0.99, f"{q['recall_0.9']:.4f}"),
        ("removal precision >= 0.99", q["precision"] >= 0.99, f"{q['precision']:.4f}"),
    ]
    print(md_table(["metric", "value"], [["recall, J >= 0.9", q["recall_0.9"]],
                                         [f"recall, J >= {THRESHOLD}", q["recall_threshold"]],
                                         ["removal precision", q["precision"]],
                                         ["documents removed (annotate-only run)", q["removed"]]]))
    print("\nTargets:\n")
    for name, ok, value in targets:
        print(f"- {name}: **{'met' if ok else 'not met'}** ({value})")


def _count_rows(out: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in (out / DEFAULT_SINK).glob("part-*.parquet"))


if __name__ == "__main__":
    main()
