"""--verify: keep a candidate edge only if the exact Jaccard similarity of its two documents'
shingle sets reaches the threshold, removing LSH false positives before clustering.

The shingle sets (sorted distinct uint64 hashes) were written beside the signatures by summarize.
Each job takes the edges whose source falls in its chunk (src mod n_chunks), lets DuckDB join them
with the two documents' shingle lists out of core, and streams the joined rows through a compiled
merge-intersection in Arrow batches, so memory stays bounded by the DuckDB cap plus one batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.stages.dedup.lsh import duckdb_connection, sql_list

EDGE_SCHEMA = pa.schema([("src", pa.int64()), ("dst", pa.int64())])


@dataclass(frozen=True)
class VerifyJob:
    """Verify the edges of `edge_files` whose src % n_chunks == chunk; write survivors to out_path."""

    edge_files: tuple[str, ...]
    partials: tuple[str, ...]
    task_column: str
    row_column: str
    shingle_column: str
    chunk: int
    n_chunks: int
    threshold: float
    out_path: str
    temp_dir: str
    memory_mb: int
    batch_rows: int = 8192


def _list_parts(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = arr.offsets.to_numpy().astype(np.int64)
    values = arr.values.to_numpy()
    return values, offsets


def verify_edges(job: VerifyJob) -> tuple[int, int]:
    """Run one verification chunk; return (distinct candidate edges, edges kept)."""
    from curate.text.minhash import jaccard_of_sorted_sets

    out = Path(job.out_path)
    tmp = out.with_name(out.name + ".tmp")
    doc = f"(CAST({job.task_column} AS BIGINT) << 32) | CAST({job.row_column} AS BIGINT)"
    sql = f"""
        WITH e AS (
            SELECT DISTINCT src, dst FROM read_parquet({sql_list(list(job.edge_files))})
            WHERE src % {int(job.n_chunks)} = {int(job.chunk)}
        ),
        s AS (SELECT {doc} AS doc, {job.shingle_column} AS sh FROM read_parquet({sql_list(list(job.partials))}))
        SELECT e.src, e.dst, s1.sh AS a, s2.sh AS b
        FROM e JOIN s AS s1 ON e.src = s1.doc JOIN s AS s2 ON e.dst = s2.doc
    """
    con = duckdb_connection(Path(job.temp_dir), job.memory_mb)
    n_in = n_out = 0
    try:
        reader = con.sql(sql).to_arrow_reader(job.batch_rows)
        with pq.ParquetWriter(str(tmp), EDGE_SCHEMA, compression="zstd") as writer:
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                va, oa = _list_parts(batch.column("a"))
                vb, ob = _list_parts(batch.column("b"))
                keep = jaccard_of_sorted_sets(va, oa, vb, ob) >= job.threshold
                n_in += batch.num_rows
                n_out += int(keep.sum())
                src = batch.column("src").to_numpy()[keep]
                dst = batch.column("dst").to_numpy()[keep]
                writer.write_table(pa.table([pa.array(src, pa.int64()), pa.array(dst, pa.int64())], schema=EDGE_SCHEMA))
    finally:
        con.close()
    os.replace(tmp, out)
    return n_in, n_out
