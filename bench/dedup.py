"""MinHash near-duplicate removal: speed per core against datasketch and datatrove, quality
against exact Jaccard, and peak memory at two corpus sizes four times apart (issue 3).

Every system gets the same documents (a generated corpus, bench/common.py) and the same
parameters: word 5-gram shingles, 112 hashes, 14 bands x 8 rows, threshold 0.8.

- Signatures: ours is the compiled kernel (segmentation + hashing + MinHash over a whole Arrow
  array). "numpy + pyarrow" is the same algorithm without numba (regex split, dictionary-encoded
  words hashed once each with xxhash, numpy n-grams and permutations): it shows what numba buys.
  datasketch gets the same shingles (as bytes, built outside the timed region) and times
  MinHash(num_perm=112).update_batch per document. datatrove times its MinhashDedupSignature
  get_shingles + get_signature per document (its own spaCy word tokenizer, 64-bit hashes).
- Whole dedup: ours is `minhash_dedup` through the runner with one worker (read Parquet, sign,
  DuckDB buckets, union-find, write Parquet). datasketch is update_batch + MinHashLSH insert and
  query + union-find + keep, in memory, shingling excluded. datatrove is its four stages
  (signature, buckets, cluster, filter) with one worker, reading and writing Parquet.
- Quality: exact Jaccard of every pair sharing a shingle (sparse matrix product) is the truth.
- Memory: peak RSS of the whole process tree above the post-import baseline (2 workers), each
  size in a fresh process.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PeakMemory, best_of, corpus, md_table, scale_arg  # noqa: E402

NGRAM, NUM_PERM, BANDS, ROWS, THRESHOLD = 5, 112, 14, 8, 0.8
SEED = 0


def load(src: Path) -> tuple[list[str], object]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(f, columns=["id", "text"]) for f in sorted(src.glob("*.parquet"))])
    return table.column("id").to_pylist(), table.column("text").combine_chunks()


def text_mb(texts: object) -> float:
    import pyarrow.compute as pc

    return pc.sum(pc.binary_length(texts)).as_py() / 1e6


# ---------------------------------------------------------------- signatures without numba
def _no_space_pattern() -> str:
    from curate.text.words import _NO_SPACE_BLOCKS

    return "([" + "".join(f"\\x{{{lo:04X}}}-\\x{{{hi:04X}}}" for lo, hi in _NO_SPACE_BLOCKS) + "])"


def word_lists(texts: object) -> object:
    """Words of each text with Arrow kernels: lowercase, split around no-space scripts and at
    every run of non letter/digit/mark characters (a ListArray of strings, empties removed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spaced = pc.replace_substring_regex(pc.utf8_lower(texts), _no_space_pattern(), r" \1 ")
    tokens = pc.split_pattern_regex(spaced, r"[^\p{L}\p{N}\p{M}]+")
    flat = pc.list_flatten(tokens)
    parent = pc.list_parent_indices(tokens).to_numpy()
    keep = pc.greater(pc.binary_length(flat), 0)
    flat = flat.filter(keep)
    parent = parent[keep.to_numpy(zero_copy_only=False)]
    offsets = np.zeros(len(texts) + 1, dtype=np.int32)
    np.cumsum(np.bincount(parent, minlength=len(texts)), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), flat)


def numpy_signatures(texts: object, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The same signatures as curate.text.minhash.signatures, with numpy/pyarrow/xxhash only."""
    import pyarrow.compute as pc
    import xxhash

    from curate.text.minhash import _M1, _M2, _POLY, signatures_from_shingles

    words = word_lists(texts)
    encoded = pc.dictionary_encode(words.values)
    distinct = encoded.dictionary.to_pylist()
    word_hash = np.fromiter((xxhash.xxh64_intdigest(w.encode()) for w in distinct), np.uint64, len(distinct))
    wh = word_hash[encoded.indices.to_numpy()]
    offsets = words.offsets.to_numpy().astype(np.int64)
    counts = np.diff(offsets)
    n_sh = np.where(counts == 0, 0, np.maximum(counts - NGRAM + 1, 1))
    sh_off = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(n_sh, out=sh_off[1:])
    doc = np.repeat(np.arange(len(counts)), n_sh)
    start = offsets[doc] + (np.arange(sh_off[-1]) - sh_off[doc])
    length = np.minimum(counts[doc], NGRAM).astype(np.uint64)
    h = length.copy()
    for j in range(NGRAM):
        inside = np.uint64(j) < length
        step = h * _POLY + wh[np.minimum(start + j, len(wh) - 1)]
        h = np.where(inside, step, h)
    h ^= h >> np.uint64(33)
    h *= _M1
    h ^= h >> np.uint64(33)
    h *= _M2
    h ^= h >> np.uint64(33)
    return signatures_from_shingles(h, sh_off, a, b)


def xxh64_text(text: str) -> int:
    """datatrove's default shingle hash, fixed: datatrove 0.10.1 passes str to xxhash, which the
    installed xxhash rejects ("Strings must be encoded before hashing"); we encode as UTF-8."""
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def datatrove_signature_step(output_folder: str, config: object) -> object:
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

    step = MinhashDedupSignature(output_folder=output_folder, config=config)
    step._hash_func = xxh64_text
    return step


def shingle_bytes(words: list[str]) -> list[bytes]:
    if not words:
        return []
    if len(words) < NGRAM:
        return [" ".join(words).encode()]
    return [" ".join(words[i : i + NGRAM]).encode() for i in range(len(words) - NGRAM + 1)]


# ---------------------------------------------------------------- signature throughput
def bench_signatures(texts: object, mb: float) -> tuple[list[list], dict[str, float]]:
    from datasketch import MinHash
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    from curate.text.minhash import permutations, signatures

    a, b = permutations(NUM_PERM, SEED)
    signatures(texts.slice(0, 10), NGRAM, a, b)  # compile / load the numba cache outside the timing
    ours = best_of(lambda: signatures(texts, NGRAM, a, b), 3)
    sig, _ = signatures(texts, NGRAM, a, b)
    t0 = time.perf_counter()
    sig_np = numpy_signatures(texts, a, b)
    t_np = time.perf_counter() - t0
    same = float((sig_np == sig).all(axis=1).mean())

    word_rows = word_lists(texts).to_pylist()
    t_ds = 0.0
    for words in word_rows:
        shingles = shingle_bytes(words)
        t0 = time.perf_counter()
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(shingles)
        t_ds += time.perf_counter() - t0

    step = datatrove_signature_step(tempfile.mkdtemp(prefix="dt-sig-"),
                                    MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS))
    t0 = time.perf_counter()
    for text in texts.to_pylist():
        shingles = step.get_shingles(text)
        if shingles.size:
            step.get_signature(shingles)
    t_dt = time.perf_counter() - t0
    shutil.rmtree(step.output_folder.path, ignore_errors=True)

    rows = [
        ["curate (numba kernel)", ours, mb / ours, 1.0],
        ["curate algorithm in numpy + pyarrow (no numba)", t_np, mb / t_np, t_np / ours],
        ["datasketch MinHash.update_batch (shingling not timed)", t_ds, mb / t_ds, t_ds / ours],
        ["datatrove MinhashDedupSignature (shingles + signature)", t_dt, mb / t_dt, t_dt / ours],
    ]
    return rows, {"ours": ours, "datasketch": t_ds, "datatrove": t_dt, "numpy_same": same}


# ---------------------------------------------------------------- whole dedup
def ours_whole(src: Path, out: Path, workers: int = 1, **params: object) -> float:
    from curate.api import Pipeline

    t0 = time.perf_counter()
    Pipeline.from_stages([("minhash_dedup", {"threshold": THRESHOLD, **params})]).run(
        src, out, workers=workers, overwrite=True)
    return time.perf_counter() - t0


def datasketch_whole(ids: list[str], word_rows: list[list[str]], lengths: list[int]) -> tuple[float, int]:
    """datasketch MinHash + MinHashLSH + union-find + keep (longest, then smallest id): seconds, removed."""
    from datasketch import MinHash, MinHashLSH

    shingles = [shingle_bytes(w) for w in word_rows]  # not timed
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(BANDS, ROWS))
    sketches = []
    for i, sh in enumerate(shingles):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        if sh:
            m.update_batch(sh)
            lsh.insert(i, m)
        sketches.append(m if sh else None)
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in enumerate(sketches):
        if m is None:
            continue
        for j in lsh.query(m):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    best: dict[int, int] = {}
    for i in range(len(ids)):
        r = find(i)
        k = best.get(r)
        if k is None or (lengths[i], ids[k]) > (lengths[k], ids[i]):
            best[r] = i
    removed = len(ids) - len(best)
    return time.perf_counter() - t0, removed


def datatrove_whole(src: Path, work: Path) -> float:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    n_files = len(list(src.glob("*.parquet")))

    def reader() -> ParquetReader:
        # without the metadata columns: datatrove's ParquetWriter fails when a batch's metadata types
        # vary (an all-null column); our run carries every column through
        return ParquetReader(str(src), glob_pattern="*.parquet", read_metadata=False)

    stages = [
        ([reader(), datatrove_signature_step(str(work / "sigs"), config)], n_files),
        ([MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=config)],
         BANDS),
        ([MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"),
                              config=config)], 1),
        ([reader(), MinhashDedupFilter(input_folder=str(work / "remove")), ParquetWriter(str(work / "out"))],
         n_files),
    ]
    t0 = time.perf_counter()
    for i, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(work / f"logs{i}"),
                              skip_completed=False).run()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- quality
def true_pairs(texts: object, min_j: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) with exact Jaccard >= min_j on our shingles, via a sparse matrix product."""
    import scipy.sparse as sp

    from curate.text.minhash import shingle_sets

    values, offsets = shingle_sets(texts, NGRAM)
    _, col = np.unique(values, return_inverse=True)
    a = sp.csr_matrix((np.ones(len(values), np.float32), col, offsets), shape=(len(offsets) - 1, col.max() + 1))
    inter = sp.triu(a @ a.T, k=1).tocoo()
    sizes = np.diff(offsets)
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= min_j
    return inter.row[keep], inter.col[keep], jac[keep]


def quality(src: Path, work: Path, verify: bool) -> tuple[list[list], dict[str, float]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids, texts = load(src)
    row, col, jac = true_pairs(texts)
    ours_whole(src, work, workers=1, annotate_only=True, verify=verify)
    out = pa.concat_tables([pq.read_table(p, columns=["id", "dup_cluster_id"]) for p in sorted(work.glob("part-*"))])
    position = {d: i for i, d in enumerate(ids)}
    order = np.array([position[d] for d in out.column("id").to_pylist()])
    cluster_ids = np.empty(len(ids), dtype=object)
    cluster_ids[order] = out.column("dup_cluster_id").to_pylist()
    _, cluster = np.unique(cluster_ids.astype(str), return_inverse=True)
    together = cluster[row] == cluster[col]
    bands = [(0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.0), (1.0, 1.01)]
    rows = []
    for lo, hi in bands:
        m = (jac >= lo) & (jac < hi)
        label = "1.0 (identical shingles)" if lo == 1.0 else f"[{lo:.2f}, {hi:.2f})"
        rows.append([label, int(m.sum()), float(together[m].mean()) if m.any() else float("nan")])
    removed = np.flatnonzero(cluster_ids != np.array(ids, dtype=object))
    strong = jac >= 0.7
    has_twin = np.zeros(len(ids), dtype=bool)
    same = together & strong
    has_twin[row[same]] = True
    has_twin[col[same]] = True
    metrics = {
        "recall_0.9": float(together[jac >= 0.9].mean()),
        "recall_threshold": float(together[jac >= THRESHOLD].mean()),
        "precision": float(has_twin[removed].mean()) if len(removed) else 1.0,
        "removed": int(len(removed)),
        "pairs_0.5": int(len(jac)),
        "unsupported": _unsupported_members(cluster, row, col),
    }
    return rows, metrics


def _unsupported_members(cluster: np.ndarray, row: np.ndarray, col: np.ndarray) -> int:
    """Documents put in a cluster in which no other member has J >= 0.5 with them."""
    linked = np.zeros(len(cluster), dtype=bool)
    same = cluster[row] == cluster[col]
    linked[row[same]] = True
    linked[col[same]] = True
    sizes = np.bincount(cluster)
    return int(((sizes[cluster] > 1) & ~linked).sum())


# ---------------------------------------------------------------- memory
MEMORY_FLAG = "--memory-run"


def memory_run(src: Path, out: Path) -> tuple[float, float]:
    """Whole dedup of `src` with 2 workers in a fresh Python process: (peak MB above its
    post-import baseline, seconds). A fresh process, so earlier measurements leave no garbage
    in the baseline."""
    import json
    import subprocess

    proc = subprocess.run([sys.executable, __file__, MEMORY_FLAG, str(src), str(out)], capture_output=True,
                          text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["peak_mb"], result["seconds"]


def _memory_child(src: Path, out: Path) -> None:
    import json

    import curate.api  # noqa: F401 - the baseline includes the library
    import curate.stages.dedup.minhash  # noqa: F401
    import curate.text.minhash  # noqa: F401

    with PeakMemory() as peak:
        seconds = ours_whole(src, out, workers=2)
    print(json.dumps({"peak_mb": peak.above_baseline_mb, "seconds": seconds}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == MEMORY_FLAG:
        _memory_child(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    scale = scale_arg()
    if scale == "small":
        report(scale, n_speed=20_000, n_quality=20_000, n_mem=(50_000, 200_000))
    else:  # datatrove runs at ~0.4 MB/s: 50k documents keep its part under 10 minutes
        report(scale, n_speed=50_000, n_quality=20_000, n_mem=(250_000, 1_000_000))


def report(scale: str, n_speed: int, n_quality: int, n_mem: tuple[int, int]) -> None:
    """Run every measurement and print the Markdown section."""
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-dedup-"))
    try:
        src = corpus(n_speed)
        ids, texts = load(src)
        mb = text_mb(texts)
        sig_rows, sig = bench_signatures(texts, mb)

        lengths = [len(t) for t in texts.to_pylist()]
        t_ours = best_of(lambda: ours_whole(src, tmp / "ours"), 2)
        t_ds, ds_removed = datasketch_whole(ids, word_lists(texts).to_pylist(), lengths)
        t_dt = datatrove_whole(src, tmp / "datatrove")
        whole_rows = [
            ["curate minhash_dedup (1 worker, Parquet in/out)", t_ours, mb / t_ours, 1.0],
            ["datasketch MinHash + MinHashLSH + union-find (in memory)", t_ds, mb / t_ds, t_ds / t_ours],
            ["datatrove signature + buckets + cluster + filter (1 worker)", t_dt, mb / t_dt, t_dt / t_ours],
        ]

        quality_src = corpus(n_quality, seed=2)
        q_rows, q = quality(quality_src, tmp / "quality", verify=False)
        qv_rows, qv = quality(quality_src, tmp / "quality_verify", verify=True)

        mem_rows = []
        mems = []
        for n in n_mem:
            mem_src = corpus(n)
            peak_mb, seconds = memory_run(mem_src, tmp / f"mem{n}")
            mems.append(peak_mb)
            mem_rows.append([f"{n:,}", f"{text_mb(load(mem_src)[1]):,.0f}", peak_mb, seconds])
            shutil.rmtree(tmp / f"mem{n}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    sig_ratio = sig["datasketch"] / sig["ours"]
    whole_ratio = t_ds / t_ours
    print(f"### dedup: MinHash near-duplicate removal ({NGRAM}-gram shingles, {NUM_PERM} hashes, "
          f"{BANDS} bands x {ROWS} rows, threshold {THRESHOLD})\n")
    print(f"Signature throughput, one core, {n_speed:,} documents ({mb:,.0f} MB of text):\n")
    print(md_table(["what", "seconds", "MB/s per core", "curate is x faster"], sig_rows))
    print(f"\nThe numpy + pyarrow version gives identical signatures for {sig['numpy_same']:.1%} of the "
          "documents (they differ only where Arrow's regex and the kernel's code-point table classify a "
          "character differently).\n")
    print("Whole dedup, one core, same documents:\n")
    print(md_table(["what", "seconds", "MB/s per core", "curate is x faster"], whole_rows))
    print(f"\n(datasketch removed {ds_removed:,} documents.)\n")
    print(f"Quality on {n_quality:,} generated documents with planted near duplicates; truth = exact "
          f"Jaccard of {NGRAM}-gram shingle sets, {q['pairs_0.5']:,} pairs with J >= 0.5. Recall = share "
          "of the pairs whose two documents end in the same cluster.\n")
    print(md_table(["true Jaccard", "pairs", "recall", "recall with --verify"],
                   [r + [v[2]] for r, v in zip(q_rows, qv_rows, strict=True)]))
    print()
    print(md_table(
        ["metric", "default", "--verify", "target"],
        [["recall, J >= 0.9", q["recall_0.9"], qv["recall_0.9"], ">= 0.99"],
         [f"recall, J >= {THRESHOLD}", q["recall_threshold"], qv["recall_threshold"], ">= 0.95"],
         ["removal precision (a J >= 0.7 twin in the cluster)", q["precision"], qv["precision"], ">= 0.99"],
         ["documents removed", q["removed"], qv["removed"], ""],
         ["clustered documents without any J >= 0.5 partner in the cluster", q["unsupported"],
          qv["unsupported"], ""]]))
    print("\nPeak memory of the process tree above the post-import baseline (whole dedup, 2 workers):\n")
    print(md_table(["documents", "MB of text", "peak MB above baseline", "seconds"], mem_rows))
    growth = mems[1] / mems[0] if mems[0] > 0 else float("nan")
    targets = [
        ("signature >= 5x datasketch per core", sig_ratio >= 5, f"{sig_ratio:.1f}x"),
        ("whole dedup >= 5x datasketch + MinHashLSH", whole_ratio >= 5, f"{whole_ratio:.1f}x"),
        ("recall >= 0.99 at J >= 0.9", q["recall_0.9"] >= 0.99, f"{q['recall_0.9']:.4f}"),
        (f"recall >= 0.95 at J >= {THRESHOLD}", q["recall_threshold"] >= 0.95, f"{q['recall_threshold']:.4f}"),
        ("removal precision >= 0.99", q["precision"] >= 0.99, f"{q['precision']:.4f}"),
        ("peak memory growth <= 2x for 4x documents", growth <= 2, f"{growth:.2f}x"),
    ]
    if scale == "full":
        targets.append(("peak memory <= 2 GB at 1M documents", mems[1] <= 2048, f"{mems[1]:,.0f} MB"))
    print("\nTargets:\n")
    for name, ok, value in targets:
        print(f"- {name}: **{'met' if ok else 'not met'}** ({value})")


if __name__ == "__main__":
    main()
