"""MinHash near-duplicate removal: speed per core against datasketch and datatrove, quality
against exact Jaccard, and peak memory at two corpus sizes four times apart (issue 3).

Every system gets the same documents (a generated corpus, bench/common.py) and the same
parameters: word 5-gram shingles, 112 hashes, 14 bands x 8 rows, threshold 0.8.

- Signatures: ours is the compiled kernel (segmentation + hashing + MinHash over a whole Arrow
  array), and its MinHash loop alone on the 64-bit shingle hashes (signatures_of_shingle_hashes).
  rensa (full-set R-MinHash, 112 permutations, no token sampling, one Rayon thread) gets the same
  shingles twice: as those 64-bit hashes (digest_matrix_from_flat_token_hashes, its fastest
  path: the MinHash loop alone, as ours) and as strings (digest_matrix_from_token_sets: its own
  string hashing included, the strings built outside the timing). "numpy + pyarrow" is our
  algorithm without numba (regex split, dictionary-encoded words hashed once each with xxhash,
  numpy n-grams and permutations): it shows what numba buys. datasketch gets the same shingles
  (as bytes, built outside the timed region) and times MinHash(num_perm=112).update_batch per
  document. datatrove times its MinhashDedupSignature get_shingles + get_signature per document
  (its own spaCy word tokenizer, 64-bit hashes).
- Whole dedup: ours is `minhash_dedup` through the runner with one worker (read Parquet, sign,
  DuckDB buckets, union-find, write Parquet). datasketch is update_batch + MinHashLSH insert and
  query + union-find + keep, in memory, shingling excluded; rensa is the same with
  RMinHash.from_token_sets and RMinHashLSH (insert_many, query_all). datatrove is its four stages
  (signature, buckets, cluster, filter) with one worker, reading and writing Parquet.
- Quality: exact Jaccard of every pair sharing a shingle (sparse matrix product) is the truth.
- Memory: peak RSS of the whole process tree above the post-import baseline (2 workers), each
  size in a fresh process.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PeakMemory, best_of, best_of_cpu, corpus, md_table, scale_arg  # noqa: E402

from curate.store.layout import DEFAULT_SINK  # noqa: E402

# rensa's batch calls spread over a Rayon pool; one thread makes its figures per core like ours
os.environ.setdefault("RAYON_NUM_THREADS", "1")

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
def shingle_strings(word_rows: list[list[str]]) -> list[list[str]]:
    """Every document's shingles as str (rensa hashes str tokens itself)."""
    return [[s.decode() for s in shingle_bytes(words)] for words in word_rows]


def bench_signatures(texts: object, mb: float, with_datatrove: bool = True,
                     repeat: int = 3) -> tuple[list[list], dict[str, float]]:
    """Signature throughput rows (what, wall s, CPU s, documents/s per core, MB/s, ratio to
    curate's kernel) and the raw figures. Per core: one thread everywhere, CPU seconds shown."""
    from datasketch import MinHash
    from rensa import RMinHash

    from curate.text.minhash import (
        permutations,
        shingle_sets,
        signatures,
        signatures_of_shingle_hashes,
    )

    n_docs = len(texts)
    a, b = permutations(NUM_PERM, SEED)
    signatures(texts.slice(0, 10), NGRAM, a, b)  # compile / load the numba cache outside the timing
    ours, ours_cpu = best_of_cpu(lambda: signatures(texts, NGRAM, a, b), repeat)
    sig, _ = signatures(texts, NGRAM, a, b)
    values, offsets = shingle_sets(texts, NGRAM)  # the same shingles for every system from here on
    loop, loop_cpu = best_of_cpu(lambda: signatures_of_shingle_hashes(values, offsets, a, b), repeat)
    flat_offsets = offsets.astype(np.uint64)
    r_flat, r_flat_cpu = best_of_cpu(
        lambda: RMinHash.digest_matrix_from_flat_token_hashes(values, flat_offsets, NUM_PERM, SEED), repeat)
    word_rows = word_lists(texts).to_pylist()
    strings = shingle_strings(word_rows)
    r_str, r_str_cpu = best_of_cpu(lambda: RMinHash.digest_matrix_from_token_sets(strings, NUM_PERM, SEED), repeat)

    t0, c0 = time.perf_counter(), time.process_time()
    sig_np = numpy_signatures(texts, a, b)
    t_np, c_np = time.perf_counter() - t0, time.process_time() - c0
    same = float((sig_np == sig).all(axis=1).mean())

    t_ds = c_ds = 0.0
    for words in word_rows:
        shingles = shingle_bytes(words)
        t0, c0 = time.perf_counter(), time.process_time()
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(shingles)
        t_ds += time.perf_counter() - t0
        c_ds += time.process_time() - c0

    def row(what: str, wall: float, cpu: float) -> list:
        return [what, wall, cpu, n_docs / cpu, mb / cpu, cpu / ours_cpu]

    rows = [
        row("curate kernel from text (words, shingles, MinHash)", ours, ours_cpu),
        row("curate MinHash loop on the shingle hashes", loop, loop_cpu),
        row("rensa digest_matrix_from_flat_token_hashes (same hashes)", r_flat, r_flat_cpu),
        row("rensa digest_matrix_from_token_sets (shingle strings, built untimed)", r_str, r_str_cpu),
        row("curate algorithm in numpy + pyarrow (no numba)", t_np, c_np),
        row("datasketch MinHash.update_batch (shingling not timed)", t_ds, c_ds),
    ]
    figures = {"ours": ours_cpu, "loop": loop_cpu, "rensa_flat": r_flat_cpu, "rensa_strings": r_str_cpu,
               "datasketch": c_ds, "numpy_same": same}
    if with_datatrove:
        from datatrove.pipeline.dedup.minhash import MinhashConfig

        step = datatrove_signature_step(tempfile.mkdtemp(prefix="dt-sig-"),
                                        MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS))
        t0, c0 = time.perf_counter(), time.process_time()
        for text in texts.to_pylist():
            shingles = step.get_shingles(text)
            if shingles.size:
                step.get_signature(shingles)
        t_dt, c_dt = time.perf_counter() - t0, time.process_time() - c0
        shutil.rmtree(step.output_folder.path, ignore_errors=True)
        rows.append(row("datatrove MinhashDedupSignature (shingles + signature)", t_dt, c_dt))
        figures["datatrove"] = c_dt
    return rows, figures


def rensa_slot_profile(n_tokens: int = 100_000, seed: int = 0) -> dict[str, float]:
    """How rensa's R-MinHash values are spread, from its public API alone: the digests of
    `n_tokens` one-token sets (random 64-bit token hashes). Returns the share of slot values below
    3/4 of the 32-bit range (a uniform hash family gives 0.75), the mean number of such slots per
    token, and whether the digest of the whole set equals the slot-wise minimum of the one-token
    digests (a full-set MinHash: no token is sampled away)."""
    from rensa import RMinHash

    tokens = np.random.default_rng(seed).integers(0, 2**64, size=n_tokens, dtype=np.uint64, endpoint=False)
    singles = np.array(RMinHash.digest_matrix_from_flat_token_hashes(
        tokens, np.arange(n_tokens + 1, dtype=np.uint64), NUM_PERM, SEED).to_rows(), dtype=np.uint64)
    whole = np.array(RMinHash.digest_matrix_from_flat_token_hashes(
        tokens, np.array([0, n_tokens], dtype=np.uint64), NUM_PERM, SEED).to_rows()[0], dtype=np.uint64)
    low = singles < np.uint64(3 << 30)
    return {"share_low": float(low.mean()), "low_slots_per_token": float(low.sum(axis=1).mean()),
            "full_set": bool((singles.min(axis=0) == whole).all())}


SIGNATURE_HEADER = ["what", "wall s", "CPU s", "signatures/s per core", "MB/s per core", "CPU / curate kernel"]


def signature_targets(sig: dict[str, float]) -> list[tuple[str, bool, str]]:
    """Issue 34's signature target, on both readings of "the same shingles"."""
    return [
        ("curate MinHash loop >= rensa per core, same shingle hashes", sig["loop"] <= sig["rensa_flat"],
         f"rensa / curate = {sig['rensa_flat'] / sig['loop']:.2f}x"),
        ("curate kernel from text >= rensa from shingle strings per core", sig["ours"] <= sig["rensa_strings"],
         f"rensa / curate = {sig['rensa_strings'] / sig['ours']:.2f}x"),
    ]


# ---------------------------------------------------------------- whole dedup
def ours_whole(src: Path, out: Path, workers: int = 1, **params: object) -> float:
    from curate.api import Pipeline

    t0 = time.perf_counter()
    Pipeline.from_stages([("minhash_dedup", {"threshold": THRESHOLD, **params})]).run(
        src, out, workers=workers, overwrite=True)
    return time.perf_counter() - t0


def keep_after_union(n: int, pairs: object, ids: list[str], lengths: list[int]) -> int:
    """Union-find over candidate pairs (i, j), then keep per cluster the longest document (then
    the smallest id): how many documents are removed."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    best: dict[int, int] = {}
    for i in range(n):
        r = find(i)
        k = best.get(r)
        if k is None or (lengths[i], ids[k]) > (lengths[k], ids[i]):
            best[r] = i
    return n - len(best)


def datasketch_whole(ids: list[str], word_rows: list[list[str]], lengths: list[int]) -> tuple[float, float, int]:
    """datasketch MinHash + MinHashLSH + union-find + keep (longest, then smallest id): wall
    seconds, CPU seconds, documents removed."""
    from datasketch import MinHash, MinHashLSH

    shingles = [shingle_bytes(w) for w in word_rows]  # not timed
    t0, c0 = time.perf_counter(), time.process_time()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(BANDS, ROWS))
    sketches = []
    for i, sh in enumerate(shingles):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        if sh:
            m.update_batch(sh)
            lsh.insert(i, m)
        sketches.append(m if sh else None)
    pairs = ((i, j) for i, m in enumerate(sketches) if m is not None for j in lsh.query(m))
    removed = keep_after_union(len(ids), pairs, ids, lengths)
    return time.perf_counter() - t0, time.process_time() - c0, removed


def rensa_whole(ids: list[str], word_rows: list[list[str]], lengths: list[int]) -> tuple[float, float, int]:
    """rensa R-MinHash (from shingle strings) + RMinHashLSH (14 bands of 8) + the same union-find
    and keep rule: wall seconds, CPU seconds, documents removed. Documents without shingles join
    no bucket, as in curate."""
    from rensa import RMinHash, RMinHashLSH

    strings = shingle_strings(word_rows)  # not timed
    present = [i for i, sh in enumerate(strings) if sh]
    strings = [strings[i] for i in present]
    t0, c0 = time.perf_counter(), time.process_time()
    sketches = RMinHash.from_token_sets(strings, NUM_PERM, SEED)
    lsh = RMinHashLSH(THRESHOLD, NUM_PERM, BANDS)
    lsh.insert_many(sketches, 0)
    candidates = lsh.query_all(sketches)
    pairs = ((present[i], present[j]) for i, found in enumerate(candidates) for j in found)
    removed = keep_after_union(len(ids), pairs, ids, lengths)
    return time.perf_counter() - t0, time.process_time() - c0, removed


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
def true_pairs(texts: object, min_j: float = 0.5, chunk: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) with exact Jaccard >= min_j on our shingles: a sparse matrix product
    (intersection sizes of all pairs sharing a shingle), `chunk` rows at a time so that memory
    holds one block of pairs, whatever the corpus's boilerplate."""
    import scipy.sparse as sp

    from curate.text.minhash import shingle_sets

    values, offsets = shingle_sets(texts, NGRAM)
    _, col = np.unique(values, return_inverse=True)
    n = len(offsets) - 1
    a = sp.csr_matrix((np.ones(len(values), np.float32), col, offsets), shape=(n, int(col.max(initial=0)) + 1))
    at = a.T.tocsr()
    sizes = np.diff(offsets)
    rows, cols, jacs = [], [], []
    for lo in range(0, n, chunk):
        inter = (a[lo : lo + chunk] @ at).tocoo()
        row, cl = inter.row + lo, inter.col
        upper = cl > row
        row, cl, both = row[upper], cl[upper], inter.data[upper]
        jac = both / (sizes[row] + sizes[cl] - both)
        keep = jac >= min_j
        rows.append(row[keep])
        cols.append(cl[keep])
        jacs.append(jac[keep])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(jacs)


def annotated_clusters(src: Path, work: Path, ids: list[str], verify: bool,
                       **params: object) -> tuple[np.ndarray, np.ndarray]:
    """Run minhash_dedup with annotate_only (and `params`) on `src`: a cluster number per document
    (in `ids` order) and the positions of the documents it would remove (not their cluster's keeper)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ours_whole(src, work, workers=1, annotate_only=True, verify=verify, **params)
    out = pa.concat_tables([pq.read_table(p, columns=["id", "dup_cluster_id"]) for p in sorted((work / DEFAULT_SINK).glob("part-*"))])
    position = {d: i for i, d in enumerate(ids)}
    order = np.array([position[d] for d in out.column("id").to_pylist()])
    cluster_ids = np.empty(len(ids), dtype=object)
    cluster_ids[order] = out.column("dup_cluster_id").to_pylist()
    _, cluster = np.unique(cluster_ids.astype(str), return_inverse=True)
    return cluster, np.flatnonzero(cluster_ids != np.array(ids, dtype=object))


def quality(src: Path, work: Path, verify: bool) -> tuple[list[list], dict[str, float]]:

    ids, texts = load(src)
    row, col, jac = true_pairs(texts)
    cluster, removed = annotated_clusters(src, work, ids, verify)
    together = cluster[row] == cluster[col]
    bands = [(0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.0), (1.0, 1.01)]
    rows = []
    for lo, hi in bands:
        m = (jac >= lo) & (jac < hi)
        label = "1.0 (identical shingles)" if lo == 1.0 else f"[{lo:.2f}, {hi:.2f})"
        rows.append([label, int(m.sum()), float(together[m].mean()) if m.any() else float("nan")])
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
        word_rows = word_lists(texts).to_pylist()
        t_ds, _, ds_removed = datasketch_whole(ids, word_rows, lengths)
        t_rs, _, rs_removed = rensa_whole(ids, word_rows, lengths)
        t_dt = datatrove_whole(src, tmp / "datatrove")
        whole_rows = [
            ["curate minhash_dedup (1 worker, Parquet in/out)", t_ours, mb / t_ours, 1.0],
            ["datasketch MinHash + MinHashLSH + union-find (in memory)", t_ds, mb / t_ds, t_ds / t_ours],
            ["rensa RMinHash + RMinHashLSH + union-find (in memory)", t_rs, mb / t_rs, t_rs / t_ours],
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
    print(md_table(SIGNATURE_HEADER, sig_rows))
    print(f"\nThe numpy + pyarrow version gives identical signatures for {sig['numpy_same']:.1%} of the "
          "documents (they differ only where Arrow's regex and the kernel's code-point table classify a "
          "character differently).\n")
    print("Whole dedup, one core, same documents:\n")
    print(md_table(["what", "seconds", "MB/s per core", "curate is x faster"], whole_rows))
    print(f"\n(datasketch removed {ds_removed:,} documents, rensa {rs_removed:,}.)\n")
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
        *signature_targets(sig),
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
