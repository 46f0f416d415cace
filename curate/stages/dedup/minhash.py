"""minhash_dedup: near-duplicate removal with MinHash LSH, bounded memory, deterministic result.

summarize  per batch: MinHash signatures (compiled kernel, :mod:`curate.text.minhash`) reduced to
           one uint64 key per LSH band, plus what the keep rule needs (id, length, quality score,
           exact-dedup count) and, with ``verify``, the sorted shingle set. The runner writes one
           partial Parquet file per task under ``_curate/work/``.
combine    one job per band (``ctx.map``): DuckDB groups the band's keys out of core and writes
           k - 1 edges per bucket (every member to the bucket's smallest member); optional exact
           Jaccard verification of those edges; union-find; keep rule; state files, one per task.
           The jobs may run on any node: they read the partials and hand on their edges through
           the work store (local copies on their own node where DuckDB needs files).
apply      per batch: read this task's state file; annotate dup_cluster_id / dup_count and reject
           the non-kept members of each cluster with reason ``near_duplicate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.pipeline.registry import register
from curate.pipeline.stage import (
    CombineContext,
    GlobalStage,
    Param,
    TaskContext,
    reject_rows,
    set_column,
    warm_up_context,
)
from curate.stages.dedup.clusters import UnionFind, choose_keepers
from curate.stages.dedup.lsh import BandChoice, BandJob, band_edges, choose_bands
from curate.stages.dedup.verify import EdgeCheck, check_edges, signature_cutoff
from curate.stages.state import row_positions
from curate.store.state import StageStore

# Columns of the partial (work) files written by summarize; internal to this stage.
P_TASK, P_ROW, P_ID, P_LENGTH, P_QUALITY, P_COUNT, P_SHINGLES, P_SIGNATURE = (
    "doc_task", "doc_row", "doc_id", "text_length", "quality", "doc_count", "shingles", "signature",
)
# Columns of the per-task state files written by combine.
S_ROW, S_KEEP, S_CLUSTER_ID, S_CLUSTER_COUNT = "row", "keep", "cluster_id", "cluster_count"



def band_column(j: int) -> str:
    """Partial-file column holding band j's keys."""
    return f"band_{j:03d}"


@register
class MinHashDedup(GlobalStage):
    name = "minhash_dedup"
    produces = (schema.DUP_CLUSTER_ID, schema.DUP_COUNT)
    optional = (schema.QUALITY_SCORE,)  # the keep rule prefers the higher score
    params = {
        "threshold": Param(float, 0.8, "Jaccard similarity from which two documents are near duplicates", min=0.01, max=1.0),
        "ngram": Param(int, 5, "words per shingle (documents with fewer words are one shingle)", min=1, max=64),
        "num_perm": Param(int, 112, "MinHash hash functions per document", min=1, max=4096),
        "bands": Param(int, None, "LSH bands (default: chosen from threshold and num_perm)", min=1, nullable=True),
        "rows": Param(int, None, "hashes per LSH band (default: chosen from threshold and num_perm)", min=1, nullable=True),
        "verify": Param(bool, False, "check candidate pairs by exact Jaccard before they join a cluster"),
        "signature_check": Param(bool, True, "without verify: drop candidate pairs whose signatures agree on "
                                 "fewer than threshold - 1.5 sigma of their hashes"),
        "annotate_only": Param(bool, False, "only add dup_cluster_id / dup_count; remove nothing"),
        "memory_mb": Param(int, 512, "memory cap of each DuckDB band / verify job (it spills to _curate/work/ beyond)", min=64),
    }

    def validate(self) -> None:
        # raises ConfigError for an impossible bands x rows
        self.band_choice: BandChoice = choose_bands(
            self.threshold, self.num_perm, self.config["bands"], self.config["rows"]
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        choice = self.band_choice
        info["lsh"] = {"bands": choice.bands, "rows": choice.rows}
        return info

    # ---- summarize -------------------------------------------------------------------------

    def partial_schema(self) -> pa.Schema:
        """Schema of the partial files (fixed, whatever columns the input has)."""
        fields = [
            pa.field(P_TASK, pa.int32()),
            pa.field(P_ROW, pa.int64()),
            pa.field(P_ID, pa.string()),
            pa.field(P_LENGTH, pa.int64()),
            pa.field(P_QUALITY, pa.float64()),
            pa.field(P_COUNT, pa.int64()),
        ]
        fields += [pa.field(band_column(j), pa.uint64()) for j in range(self.band_choice.bands)]
        if self.check_mode == "exact":
            fields.append(pa.field(P_SHINGLES, pa.large_list(pa.uint64())))
        elif self.check_mode == "signature":
            fields.append(pa.field(P_SIGNATURE, pa.binary(4 * self.num_perm)))
        return pa.schema(fields)

    @property
    def check_mode(self) -> str:
        """How candidate pairs are checked before clustering: exact, signature or none."""
        return "exact" if self.verify else ("signature" if self.signature_check else "none")

    def _permutations(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        from curate.text.minhash import permutations

        return self.cached(f"perm_{seed}", lambda: permutations(self.num_perm, seed))

    def kernels(self) -> list[Any]:
        from curate.text import minhash

        exact = self.check_mode == "exact"
        return [*minhash.SIGNATURE_KERNELS, *(minhash.SHINGLE_KERNELS + minhash.JACCARD_KERNELS if exact else ())]

    def warm_up(self, sample: pa.Table) -> None:
        self.summarize(sample, warm_up_context())
        if self.check_mode == "exact":
            from curate.text.minhash import jaccard_of_sorted_sets, shingle_sets

            values, offsets = shingle_sets(sample.column(schema.TEXT), self.ngram)
            jaccard_of_sorted_sets(values, offsets, values, offsets)

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        from curate.text.minhash import band_keys, shingle_sets, signatures

        n = table.num_rows
        text = table.column(schema.TEXT)
        eligible = _not_rejected(table)
        if not eligible.all():  # rows rejected upstream take no part in clustering
            text = pc.if_else(pa.array(eligible), text, pa.scalar(None, text.type))
        choice = self.band_choice
        a, b = self._permutations(ctx.seed)
        sig, n_shingles = signatures(text, self.ngram, a, b)
        keys = band_keys(sig, choice.bands, choice.rows)
        no_shingles = n_shingles == 0  # their band keys are null: they join no bucket
        columns: list[pa.Array | pa.ChunkedArray] = [
            pa.array(np.full(n, ctx.task_index, dtype=np.int32)),
            row_positions(table, ctx),
            table.column(schema.ID).cast(pa.string()),
            pc.fill_null(pc.utf8_length(table.column(schema.TEXT)), 0).cast(pa.int64()),
            _optional_column(table, schema.QUALITY_SCORE, pa.float64(), None),
            _optional_column(table, schema.DUP_COUNT, pa.int64(), 1),
        ]
        columns += [pa.array(keys[:, j], pa.uint64(), mask=no_shingles) for j in range(choice.bands)]
        if self.check_mode == "exact":
            values, offsets = shingle_sets(text, self.ngram)
            columns.append(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values, pa.uint64())))
        elif self.check_mode == "signature":
            width = 4 * self.num_perm
            columns.append(pa.Array.from_buffers(pa.binary(width), n, [None, pa.py_buffer(sig.tobytes())]))
        return pa.Table.from_arrays(columns, schema=self.partial_schema())

    # ---- combine ---------------------------------------------------------------------------

    def combine(self, ctx: CombineContext) -> None:
        choice = self.band_choice
        ctx.logger.info("%s", choice.describe(self.threshold))
        store = ctx.store
        partials = [store.partial(t) for t in range(ctx.n_tasks)]  # in the store: the jobs run anywhere
        counts = np.array([store.files.num_rows(p) for p in partials], dtype=np.int64)
        offsets = np.zeros(len(partials) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        n_docs = int(offsets[-1])
        summary: dict[str, Any] = {
            "bands": choice.bands,
            "rows": choice.rows,
            "s_curve_threshold": round(choice.s_curve_threshold, 4),
            "p_detect_at_threshold": round(choice.p_detect, 4),
            "documents": n_docs,
            "pair_check": self.check_mode,
        }
        edge_files = self._band_edges(ctx, partials, summary) if n_docs else []
        if self.check_mode != "none" and edge_files:
            edge_files = self._check_edges(ctx, partials, edge_files, summary)
        roots = _components(store, n_docs, edge_files, offsets)
        sizes = np.bincount(roots, minlength=n_docs)
        in_cluster = sizes[roots] > 1
        n_members = int(in_cluster.sum())
        n_clusters = int((sizes > 1).sum())
        summary.update(
            clusters=n_clusters,
            near_duplicates=n_members - n_clusters,
            largest_cluster=int(sizes.max()) if n_docs else 0,
        )
        if n_members:
            self._write_state(ctx, partials, offsets, roots, in_cluster)
        ctx.logger.info("minhash_dedup: %d documents, %d clusters, %d near duplicates", n_docs, n_clusters,
                        n_members - n_clusters)
        ctx.summary.update(summary)

    def _band_edges(self, ctx: CombineContext, partials: list[str], summary: dict[str, Any]) -> list[str]:
        """One job per band (in parallel through ctx.map); returns the edge files (in the store)."""
        jobs = [
            BandJob(ctx.store, tuple(partials), band_column(j), P_TASK, P_ROW,
                    ctx.store.shared_file(f"edges/band-{j:03d}.parquet"), self.memory_mb)
            for j in range(self.band_choice.bands)
        ]
        summary["band_edges"] = int(sum(ctx.map(band_edges, jobs)))
        return [job.out_path for job in jobs]

    def _check_edges(self, ctx: CombineContext, partials: list[str], edge_files: list[str],
                     summary: dict[str, Any]) -> list[str]:
        """Signature or exact check of the distinct candidate edges, in one chunk per worker."""
        n_chunks = max(1, ctx.workers)
        exact = self.check_mode == "exact"
        cutoff = self.threshold if exact else signature_cutoff(self.threshold, self.num_perm)
        jobs = [
            EdgeCheck(ctx.store, self.check_mode, tuple(edge_files), tuple(partials), P_TASK, P_ROW,
                      P_SHINGLES if exact else P_SIGNATURE, i, n_chunks, cutoff,
                      ctx.store.shared_file(f"edges/checked-{i:03d}.parquet"), self.memory_mb)
            for i in range(n_chunks)
        ]
        results = ctx.map(check_edges, jobs)
        summary["candidate_pairs"] = int(sum(r[0] for r in results))
        summary["pairs_kept"] = int(sum(r[1] for r in results))
        return [job.out_path for job in jobs]

    def _write_state(
        self, ctx: CombineContext, partials: list[str], offsets: np.ndarray, roots: np.ndarray, in_cluster: np.ndarray
    ) -> None:
        """Gather the cluster members' keep-rule attributes, decide keepers, write one file per task."""
        parts = []
        for task, path in enumerate(partials):
            lo, hi = offsets[task], offsets[task + 1]
            if not in_cluster[lo:hi].any():
                continue
            tbl = ctx.store.files.read_table(path, columns=[P_TASK, P_ROW, P_ID, P_LENGTH, P_QUALITY, P_COUNT])
            gid = lo + tbl.column(P_ROW).to_numpy()
            mask = in_cluster[gid]
            tbl = tbl.filter(pa.array(mask))
            parts.append(tbl.append_column("cluster", pa.array(roots[gid[mask]], pa.int64())))
        decided = choose_keepers(pa.concat_tables(parts), "cluster", P_ID, P_LENGTH, P_QUALITY, P_COUNT)
        decided = decided.take(pc.sort_indices(decided, sort_keys=[(P_TASK, "ascending"), (P_ROW, "ascending")]))
        tasks = decided.column(P_TASK).to_numpy()
        bounds = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1], True])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            part = decided.slice(lo, hi - lo)
            state = pa.table({
                S_ROW: part.column(P_ROW),
                S_KEEP: part.column("keep"),
                S_CLUSTER_ID: part.column("cluster_id"),
                S_CLUSTER_COUNT: part.column("cluster_count"),
            })
            ctx.store.write_task(int(tasks[lo]), state)

    # ---- apply -----------------------------------------------------------------------------

    def _task_state(self, ctx: TaskContext) -> pa.Table | None:
        """This task's cluster members (row, keep, cluster id, count); None if it has none."""
        assert ctx.store is not None
        return ctx.store.read_task(ctx.task_index)

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        n = table.num_rows
        ids = table.column(schema.ID).cast(pa.string())
        own_count = _optional_column(table, schema.DUP_COUNT, pa.int64(), 1).to_numpy()
        cluster_ids: pa.Array | pa.ChunkedArray = ids
        if schema.DUP_CLUSTER_ID in table.column_names:  # keep an upstream (exact dedup) annotation
            cluster_ids = pc.coalesce(table.column(schema.DUP_CLUSTER_ID).cast(pa.string()), ids)
        dup_count = own_count.copy()
        rejected = np.zeros(n, dtype=bool)
        state = self._task_state(ctx)
        if state is not None:
            rows = state.column(S_ROW).to_numpy()
            i0, i1 = np.searchsorted(rows, [ctx.row_offset, ctx.row_offset + n])
            if i1 > i0:
                pos = rows[i0:i1] - ctx.row_offset
                keep = state.column(S_KEEP).to_numpy(zero_copy_only=False)[i0:i1]
                totals = state.column(S_CLUSTER_COUNT).to_numpy()[i0:i1]
                dup_count[pos[keep]] = totals[keep]
                rejected[pos[~keep]] = True
                take = np.arange(n, dtype=np.int64)
                take[pos] = n + np.arange(i1 - i0)
                combined = pa.chunked_array(
                    _chunks(cluster_ids) + _chunks(state.column(S_CLUSTER_ID).slice(i0, i1 - i0)), pa.string()
                )
                cluster_ids = combined.take(pa.array(take))
        table = set_column(table, schema.DUP_CLUSTER_ID, cluster_ids)
        table = set_column(table, schema.DUP_COUNT, pa.array(dup_count, pa.int64()))
        ctx.count("near_duplicate_members", int(rejected.sum()))
        if self.annotate_only:
            return table
        return reject_rows(table, pa.array(rejected), schema.REASON_NEAR_DUPLICATE)


def _chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


def _not_rejected(table: pa.Table) -> np.ndarray:
    if schema.REJECT_REASON not in table.column_names:
        return np.ones(table.num_rows, dtype=bool)
    return pc.is_null(table.column(schema.REJECT_REASON)).to_numpy(zero_copy_only=False)


def _optional_column(table: pa.Table, name: str, type_: pa.DataType, fill: Any) -> pa.Array:
    """Column `name` cast to `type_` with nulls filled by `fill`, or a column of `fill` if absent."""
    if name in table.column_names:
        col = table.column(name).cast(type_)
        if fill is not None:
            col = pc.fill_null(col, pa.scalar(fill, type_))
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pa.nulls(table.num_rows, type_) if fill is None else pa.array(np.full(table.num_rows, fill), type_)


def _components(store: StageStore, n_docs: int, edge_files: list[str], offsets: np.ndarray) -> np.ndarray:
    """Union-find over the edge files (in the store), read in batches: the root (smallest member)
    of every document."""
    union = UnionFind(n_docs)
    for path in edge_files:
        for batch in store.files.parquet_file(path).iter_batches(batch_size=1 << 20, columns=["src", "dst"]):
            union.union(_dense(batch.column(0), offsets), _dense(batch.column(1), offsets))
    return union.roots()


def _dense(packed: pa.Array, offsets: np.ndarray) -> np.ndarray:
    """Packed (task << 32 | row) document numbers to dense global indices."""
    values = packed.to_numpy()
    return offsets[values >> 32] + (values & 0xFFFFFFFF)

