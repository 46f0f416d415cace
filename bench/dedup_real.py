"""MinHash dedup on a real corpus of more than 1 GB: documentation that Debian packages install
(issue 34).

Corpus: bench/real_corpus.py (issue 30) builds it (``--install`` adds documentation packages with
apt-get when the machine has too few), deterministic for a given set of installed packages; its
sha256 and every package with its version are printed (a changed hash is reported, not a failure).
Two choices of this script, both options:

- kinds doc, html and source (``--kinds``): man pages are left out because groff renders about
  20,000 of them at ~10 ms each, which on the shared 2-core development machine (load 14-18) did
  not finish in a session;
- HTML pages as their HTML source (``--html raw``): what the machine has installed is ~0.93 GB of
  HTML, 0.21 GB of other documentation text and 0.09 GB of sources, so with the HTML extracted to
  text (``--html text``, curate.io.warc: resiliparse, main content) the corpus would stay under
  1 GB. Markup is text to the shingler: templated pages (javadoc) share it, which makes large
  clusters of near duplicates, as templated web pages do.

real_corpus.py writes three formats (JSON Lines, Parquet, WARC); they are turned once into Parquet
shards of (id, text) so that every system reads the same texts.

- curate: the whole `curate dedup --workers 1` command in a fresh process (start-up, imports,
  numba kernels from the cache, Parquet in and out, DuckDB buckets, union-find, keep rule).
- datasketch and rensa (MinHash + LSH 14 x 8 + union-find + keep, in memory, no I/O, shingles
  built outside the timing): a full 1 GB run would hold ~10^8 shingle strings in Python
  (tens of GB), so each runs on seeded random samples of the documents (two sizes, to show
  the cost is linear in the text) and is scaled to the whole corpus by MB of text.
- Signatures per second per core on the same shingles (bench/dedup.py bench_signatures) on the
  smaller sample.
- Quality: a seeded sample of 50,000 documents, deduplicated by curate (annotate-only, default
  and --verify), against an exact similarity join of that sample (bench/similarity_join.py:
  prefix filtering, then the exact Jaccard of every candidate; tested equal to the sparse-product
  truth of bench/dedup.py on the stdlib and generated corpora): recall at J >= 0.9 and removal
  precision (a J >= 0.7 twin in the cluster).

    python bench/dedup_real.py --scale full    # builds the 1.2 GB corpus on first use (~10-20 min)
    python bench/dedup_real.py --scale small   # a smoke run on a 20 MB corpus
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, load_average, machine, md_table, run_curate, versions  # noqa: E402
from dedup import (  # noqa: E402
    NGRAM,
    SIGNATURE_HEADER,
    THRESHOLD,
    annotated_clusters,
    bench_signatures,
    datasketch_whole,
    load,
    rensa_whole,
    signature_targets,
    text_mb,
    word_lists,
)
from dedup_stdlib import PEERS, dedup_cmd, one_doc_corpus  # noqa: E402

SHARD_TEXT_BYTES = 64 << 20
MAX_JOIN_CANDIDATES = 100_000_000  # ~3 minutes of exact Jaccard on the loaded development machine
# --scale presets: corpus bytes, datasketch / rensa sample fractions, quality sample documents
SCALES = {
    "small": {"target_bytes": 2e7, "peer_fractions": "0.1,0.2", "quality_docs": 2000},
    "full": {"target_bytes": 1.2e9, "peer_fractions": "0.01,0.02", "quality_docs": 50_000},
}


def build_corpus(target: float, kinds: str) -> tuple[Path, dict]:
    """real_corpus.py's corpus of `target` bytes of `kinds` under bench/.cache (built once), and
    its manifest."""
    import real_corpus

    label = f"{target:.3g}".replace("e+0", "e").replace("e+", "e")
    out = CACHE / f"real-corpus-{label}-{kinds.replace(',', '-')}"
    manifest = out / "_MANIFEST.json"
    if not manifest.exists():
        code = real_corpus.main(["--out", str(out), "--target-bytes", str(target), "--kinds", kinds, "--install"])
        if code:
            raise SystemExit(f"bench/real_corpus.py failed with exit code {code}")
    return out, json.loads(manifest.read_text())


def _documents(corpus: Path, html: str):  # -> Iterator[pa.Table]
    """(id, text) tables of every document of the corpus, in file order; HTML pages as their
    HTML source (`html` = "raw") or as curate's extracted text ("text")."""
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    from curate.io import warc

    for path in sorted((corpus / "jsonl").glob("part-*.jsonl.gz")):
        with pa.input_stream(str(path), compression="gzip") as stream:
            table = pj.read_json(stream, read_options=pj.ReadOptions(block_size=1 << 28))  # long man pages
        yield table.select(["id", "text"])
    for path in sorted((corpus / "parquet").glob("part-*.parquet")):
        yield pq.read_table(path, columns=["id", "text"])
    for path in sorted((corpus / "warc").glob("part-*.warc.gz")):
        if html == "raw":
            yield _raw_pages(path)
            continue
        for table, _ in warc.batches(path, ["url", "text", "reject_reason"]):
            kept = table.filter(pa.compute.is_null(table.column("reject_reason")))
            yield pa.table({"id": kept.column("url"), "text": kept.column("text")})


def _raw_pages(path: Path):  # -> pa.Table
    """(id = URL, text = the page's HTML decoded as UTF-8) of every response record of a WARC file."""
    import pyarrow as pa
    from warcio.archiveiterator import ArchiveIterator

    ids, texts = [], []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                ids.append(record.rec_headers.get_header("WARC-Target-URI"))
                texts.append(record.content_stream().read().decode("utf-8", errors="replace"))
    return pa.table({"id": ids, "text": texts})


def dedup_input(corpus: Path, sha256: str, html: str) -> Path:
    """Parquet shards of (id, text), made once per corpus hash and HTML treatment."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = corpus.parent / f"{corpus.name}-{html}-{sha256[:12]}"
    if (out / "_DONE").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pending: list[pa.Table] = []
    size = shard = 0
    for table in _documents(corpus, html):
        table = table.cast(pa.schema([("id", pa.string()), ("text", pa.string())]))
        pending.append(table)
        size += pa.compute.sum(pa.compute.binary_length(table.column("text"))).as_py() or 0
        if size >= SHARD_TEXT_BYTES:
            pq.write_table(pa.concat_tables(pending), out / f"shard-{shard:05d}.parquet")
            pending, size, shard = [], 0, shard + 1
    if pending:
        pq.write_table(pa.concat_tables(pending), out / f"shard-{shard:05d}.parquet")
    (out / "_DONE").write_text("")
    return out


def sample(src: Path, dst: Path, n_docs: int, seed: int) -> Path:
    """A seeded random sample of `n_docs` documents of `src`, in corpus order, as one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids, texts = load(src)
    pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=min(n_docs, len(ids)), replace=False))
    dst.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": pa.array(ids).take(pa.array(pick)), "text": texts.take(pa.array(pick))}),
                   dst / "sample.parquet")
    return dst


def peers_on_sample(src: Path) -> dict[str, float]:
    """datasketch and rensa whole dedup on one sample: MB of text and wall / CPU seconds of each."""
    ids, texts = load(src)
    lengths = [len(t) for t in texts.to_pylist()]
    word_rows = word_lists(texts).to_pylist()
    ds_wall, ds_cpu, ds_removed = datasketch_whole(ids, word_rows, lengths)
    rs_wall, rs_cpu, rs_removed = rensa_whole(ids, word_rows, lengths)
    return {"docs": len(ids), "mb": text_mb(texts), "ds_wall": ds_wall, "ds_cpu": ds_cpu, "ds_removed": ds_removed,
            "rs_wall": rs_wall, "rs_cpu": rs_cpu, "rs_removed": rs_removed}


def quality(src: Path, work: Path, verify: bool, **params: object) -> dict[str, float]:
    """curate's clusters on `src` (annotate-only) against the exact join of bench/similarity_join.py:
    recall = share of pairs with J >= 0.9 (and >= THRESHOLD) in one cluster; removal precision =
    share of removed documents with a J >= 0.7 twin in their cluster."""
    from similarity_join import pairs_at_least

    from curate.text.minhash import shingle_sets

    ids, texts = load(src)
    values, offsets = shingle_sets(texts, NGRAM)
    row, col, jac = pairs_at_least(values, offsets, 0.7)
    del values, offsets, texts
    cluster, removed = annotated_clusters(src, work, ids, verify, **params)
    together = cluster[row] == cluster[col]
    has_twin = np.zeros(len(ids), dtype=bool)
    has_twin[row[together]] = True
    has_twin[col[together]] = True
    return {"recall_0.9": float(together[jac >= 0.9].mean()) if (jac >= 0.9).any() else 1.0,
            "recall_threshold": float(together[jac >= THRESHOLD].mean()) if (jac >= THRESHOLD).any() else 1.0,
            "precision": float(has_twin[removed].mean()) if len(removed) else 1.0,
            "removed": int(len(removed)), "pairs_0.9": int((jac >= 0.9).sum()), "pairs_0.7": int(len(jac))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default=os.environ.get("BENCH_SCALE", "small"),
                        help="presets: small = a 20 MB corpus (a smoke run), full = the 1.2 GB one")
    parser.add_argument("--target-bytes", type=float, help="corpus size for real_corpus.py")
    parser.add_argument("--kinds", default="doc,html,source",
                        help="real_corpus.py kinds; man pages are left out by default: groff renders ~20,000 "
                             "pages at ~10 ms each, which took hours on the loaded development machine")
    parser.add_argument("--html", choices=["raw", "text"], default="raw",
                        help="HTML pages as their source (default: with what this machine has installed, "
                             "extracted text leaves ~0.75 GB in all) or as curate's extracted text")
    parser.add_argument("--peer-fractions", help="sample sizes for datasketch / rensa, e.g. 0.01,0.02")
    parser.add_argument("--quality-docs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of the curate command (best kept)")
    args = parser.parse_args()
    for name, value in SCALES[args.scale].items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    corpus, manifest = build_corpus(args.target_bytes, args.kinds)
    src = dedup_input(corpus, manifest["sha256"], args.html)
    ids, texts = load(src)
    n_docs, mb = len(ids), text_mb(texts)
    del ids, texts
    say = functools.partial(print, flush=True)  # section by section: a late failure keeps the figures
    say(f"### dedup_real: `curate dedup` on {mb / 1e3:,.2f} GB of Debian documentation text\n")
    say(f"Machine: {machine()}; load average {load_average()} (1 / 5 / 15 min) at the start. {versions(*PEERS)}.\n")
    kinds = ", ".join(f"{k} {manifest['docs'][k]:,}" for k in manifest["docs"])
    html = "HTML pages as their HTML source" if args.html == "raw" else "HTML pages as extracted text"
    say(f"Corpus: bench/real_corpus.py --target-bytes {args.target_bytes:g} --kinds {args.kinds}, sha256 "
        f"`{manifest['sha256']}`; {n_docs:,} documents ({kinds}), {mb:,.0f} MB of text ({html}).\n")
    say(f"<details><summary>The {len(manifest['packages'])} Debian packages its documents come from, with "
        "versions</summary>\n\n" + ", ".join(f"{p} {v}" for p, v in manifest["packages"].items()) + "\n\n</details>\n")
    targets = []
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-real-"))
    try:
        fixed_src = one_doc_corpus(src, tmp / "one")
        run_curate(dedup_cmd(fixed_src, tmp / "warm"))  # numba's cache filled outside the timing
        fixed = run_curate(dedup_cmd(fixed_src, tmp / "one-out"))
        best = min((run_curate(dedup_cmd(src, tmp / "ours")) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        shutil.rmtree(tmp / "ours", ignore_errors=True)
        say(f"`curate dedup --workers 1` on the whole corpus: {best['seconds']:,.1f} s wall, {best['cpu']:,.1f} CPU s "
            f"(fixed cost, 1-document input: {fixed['seconds']:,.1f} s wall, {fixed['cpu']:,.2f} CPU s).\n")

        peer_runs = [peers_on_sample(sample(src, tmp / f"peers{i}", int(round(float(frac) * n_docs)), args.seed + i))
                     for i, frac in enumerate(args.peer_fractions.split(","))]
        per_mb = {k: np.mean([r[k] / r["mb"] for r in peer_runs]) for k in ("ds_wall", "ds_cpu", "rs_wall", "rs_cpu")}
        ds_cpu_full, rs_cpu_full = per_mb["ds_cpu"] * mb, per_mb["rs_cpu"] * mb
        ratio = ds_cpu_full / best["cpu"]
        say(md_table(["what", "wall s", "CPU s", "MB per CPU s", "datasketch CPU / this"], [
            ["`curate dedup --workers 1` (whole command, fresh process)", best["seconds"], best["cpu"],
             mb / best["cpu"], ratio],
            ["  of which fixed cost (same command, 1-document input)", fixed["seconds"], fixed["cpu"], "", ""],
            ["datasketch MinHash + MinHashLSH + union-find, scaled from the samples", per_mb["ds_wall"] * mb,
             ds_cpu_full, 1 / per_mb["ds_cpu"], 1.0],
            ["rensa RMinHash + RMinHashLSH + union-find, scaled from the samples", per_mb["rs_wall"] * mb,
             rs_cpu_full, 1 / per_mb["rs_cpu"], ds_cpu_full / rs_cpu_full],
        ]))
        say("\nThe samples datasketch and rensa ran on (seeded, documents drawn uniformly; the scaling above uses "
            "the mean cost per MB of text; a cost per MB that grows with the sample means the scaled figure is "
            "a lower bound):\n")
        say(md_table(["documents", "MB of text", "datasketch CPU s", "datasketch CPU s per MB", "rensa CPU s",
                      "rensa CPU s per MB", "removed by datasketch / rensa"],
                     [[r["docs"], r["mb"], r["ds_cpu"], r["ds_cpu"] / r["mb"], r["rs_cpu"], r["rs_cpu"] / r["mb"],
                       f"{r['ds_removed']:,} / {r['rs_removed']:,}"] for r in peer_runs]))
        targets.append(("whole command >= 10x datasketch (CPU s, start-up included)", ratio >= 10, f"{ratio:.1f}x"))

        _, sig_texts = load(tmp / "peers0")
        sig_rows, sig = bench_signatures(sig_texts, text_mb(sig_texts), with_datatrove=False)
        del sig_texts
        say(f"\nSignatures per second per core on the same shingles ({peer_runs[0]['docs']:,}-document sample):\n")
        say(md_table(SIGNATURE_HEADER, sig_rows))
        targets = signature_targets(sig) + targets

        for label, q_src in quality_samples(src, tmp, args.quality_docs, args.seed):
            try:
                q = quality(q_src, tmp / "quality", verify=False)
            except RuntimeError as exc:  # the exact join's candidate budget
                say(f"\nQuality on {label}: not measured ({exc}).")
                continue
            qv = verified_quality(q_src, tmp / "quality-verify", say)
            say(f"\nQuality on {label} against the exact similarity join (bench/similarity_join.py, prefix "
                f"filtering: {q['pairs_0.7']:,} pairs with J >= 0.7, {q['pairs_0.9']:,} with J >= 0.9):\n")
            say(md_table(["metric", "default", "--verify"], [
                ["recall, J >= 0.9", q["recall_0.9"], qv["recall_0.9"]],
                [f"recall, J >= {THRESHOLD}", q["recall_threshold"], qv["recall_threshold"]],
                ["removal precision (a J >= 0.7 twin in the cluster)", q["precision"], qv["precision"]],
                ["documents removed (annotate-only run)", q["removed"], qv["removed"]]]))
            targets += [(f"recall >= 0.99 at J >= 0.9, {label}", q["recall_0.9"] >= 0.99, f"{q['recall_0.9']:.4f}"),
                        (f"removal precision >= 0.99, {label}", q["precision"] >= 0.99, f"{q['precision']:.4f}"),
                        (f"removal precision >= 0.99 with --verify, {label}", qv["precision"] >= 0.99,
                         f"{qv['precision']:.4f}")]
            shutil.rmtree(tmp / "quality", ignore_errors=True)
            shutil.rmtree(tmp / "quality-verify", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        say("\nTargets:\n")
        for name, ok, value in targets:
            say(f"- {name}: **{'met' if ok else 'not met'}** ({value})")
        say(f"\nLoad average at the end: {load_average()}.")


def verified_quality(src: Path, work: Path, say: Callable[..., None]) -> dict[str, float]:
    """quality() with --verify; if DuckDB runs out of memory at the default memory_mb (a document
    with millions of shingles is one list value, which DuckDB cannot spill), say so and measure
    again with memory_mb 4096."""
    import duckdb

    try:
        return quality(src, work, verify=True)
    except duckdb.OutOfMemoryException as exc:
        say(f"\n(`--verify` at the default memory_mb failed: {str(exc).splitlines()[0]}; measured again with "
            "memory_mb 4096.)")
        shutil.rmtree(work, ignore_errors=True)
        return quality(src, work, verify=True, memory_mb=4096)


def quality_samples(src: Path, tmp: Path, n_docs: int, seed: int):  # -> Iterator[tuple[str, Path]]
    """The seeded samples the quality is measured on: `n_docs` documents with HTML pages as extracted
    text, and the largest seeded sample (halving from `n_docs`) whose exact join fits the
    candidate budget of bench/similarity_join.py as the corpus has it (HTML source)."""
    from similarity_join import candidate_count

    from curate.text.minhash import shingle_sets

    size = n_docs
    while size >= 500:
        raw_src = sample(src, tmp / f"quality-raw-{size}", size, seed)
        _, texts = load(raw_src)
        count = candidate_count(*shingle_sets(texts, NGRAM), 0.7)
        del texts
        if count <= MAX_JOIN_CANDIDATES:
            yield f"a seeded sample of {size:,} documents as the corpus has them ({count:,} candidate pairs)", raw_src
            break
        print(f"\n(A {size:,}-document sample of the corpus as it is has {count:,} candidate pairs for the exact "
              f"join at J >= 0.7, beyond the budget of {MAX_JOIN_CANDIDATES:,}: halving.)", flush=True)
        shutil.rmtree(raw_src, ignore_errors=True)
        size //= 2
    text_src = as_text(sample(src, tmp / "quality-text-raw", n_docs, seed), tmp / "quality-text")
    yield f"a seeded sample of {n_docs:,} documents, HTML pages as extracted text", text_src


def as_text(src: Path, dst: Path) -> Path:
    """`src` with its HTML pages (ids under real_corpus.WARC_URI_BASE) turned into text by curate's
    WARC extraction (curate.io.warc.html_to_text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from real_corpus import WARC_URI_BASE

    from curate.io.warc import html_to_text

    ids, texts = load(src)
    out = [html_to_text(t.encode("utf-8"), "text/html; charset=utf-8") if d.startswith(WARC_URI_BASE) else t
           for d, t in zip(ids, texts.to_pylist(), strict=True)]
    dst.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "text": out}), dst / "sample.parquet")
    return dst


if __name__ == "__main__":
    main()
