"""Candidate-edge checks before clustering, which keep LSH false positives out of clusters.

- ``signature`` (default): the two documents' MinHash signatures must agree on at least
  ``signature_cutoff(threshold, num_perm)`` of their hashes. Cheap: it reads the signatures that
  summarize stored, no text.
- ``exact`` (``--verify``): the exact Jaccard similarity of the two sorted shingle sets must reach
  the threshold.

Each job takes the distinct edges whose source falls in its chunk (src mod n_chunks), lets DuckDB
join them with both documents' stored column out of core, and streams the joined rows through a
vectorized or compiled similarity in Arrow batches: memory is bounded by the DuckDB cap plus one
batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.stages.dedup.lsh import duckdb_connection
from curate.store.duck import sql_list
from curate.store.state import StageStore

EDGE_SCHEMA = pa.schema([("src", pa.int64()), ("dst", pa.int64())])
# Standard deviations below the threshold at which the signature check cuts. Chosen on the
# bench corpus (bench/dedup.py): 2.0 gave removal precision 0.985, 1.5 gave 0.993 with recall
# 0.993 at J >= 0.8, 1.0 gave 0.999 but recall 0.990.
SIGNATURE_Z = 1.5


def signature_cutoff(threshold: float, num_perm: int) -> float:
    """Smallest share of equal signature entries a candidate pair needs: threshold - 1.5 sigma.

    The share of equal entries estimates Jaccard J with standard deviation sqrt(J(1-J)/k)
    (A. Broder, "On the resemblance and containment of documents", 1997). At threshold 0.8 with
    112 hashes the cutoff is 0.743: a pair exactly at the threshold passes with probability about
    0.93, pairs at 0.9 always, pairs at 0.65 with probability about 0.02.
    """
    return threshold - SIGNATURE_Z * math.sqrt(threshold * (1 - threshold) / num_perm)


@dataclass(frozen=True)
class EdgeCheck:
    """Check the edges of `edge_files` whose src % n_chunks == chunk; write survivors to out_path.

    mode "exact" compares sorted uint64 lists (Jaccard >= cutoff); mode "signature" compares
    fixed-width binary signatures of uint32 values (share of equal entries >= cutoff). Every
    path is in the work store (`store`'s storage), as for :class:`~curate.stages.dedup.lsh.BandJob`.
    """

    store: StageStore
    mode: str
    edge_files: tuple[str, ...]
    partials: tuple[str, ...]
    task_column: str
    row_column: str
    value_column: str
    chunk: int
    n_chunks: int
    cutoff: float
    out_path: str
    memory_mb: int
    batch_rows: int = 8192


def _list_parts(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.values.to_numpy(), arr.offsets.to_numpy().astype(np.int64)


def _signature_rows(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Binary signatures (all of one width) as a uint32 matrix, one row per value."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_binary())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view(np.uint32).reshape(len(arr), -1)


def _similarity(mode: str, a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    if mode == "signature":
        return (_signature_rows(a) == _signature_rows(b)).mean(axis=1)
    from curate.text.minhash import jaccard_of_sorted_sets

    return jaccard_of_sorted_sets(*_list_parts(a), *_list_parts(b))


def check_edges(job: EdgeCheck) -> tuple[int, int]:
    """Run one chunk of checks; return (distinct candidate edges, edges kept). DuckDB reads this
    node's copies of the edge files and partials; the kept edges go to the store."""
    store = job.store
    local = store.local_files([*job.edge_files, *job.partials])
    edge_files, partials = local[: len(job.edge_files)], local[len(job.edge_files):]
    doc = f"(CAST({job.task_column} AS BIGINT) << 32) | CAST({job.row_column} AS BIGINT)"
    sql = f"""
        WITH e AS (
            SELECT DISTINCT src, dst FROM read_parquet({sql_list(edge_files)})
            WHERE src % {int(job.n_chunks)} = {int(job.chunk)}
        ),
        s AS NOT MATERIALIZED (SELECT {doc} AS doc, {job.value_column} AS v FROM read_parquet({sql_list(partials)}))
        SELECT e.src, e.dst, s1.v AS a, s2.v AS b
        FROM e JOIN s AS s1 ON e.src = s1.doc JOIN s AS s2 ON e.dst = s2.doc
    """
    con = duckdb_connection(store, job.memory_mb)
    n_in = n_out = 0
    reader = con.sql(sql).to_arrow_reader(job.batch_rows)
    with store.local_output(job.out_path) as out, pq.ParquetWriter(str(out), EDGE_SCHEMA, compression="zstd") as writer:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            keep = _similarity(job.mode, batch.column("a"), batch.column("b")) >= job.cutoff
            n_in += batch.num_rows
            n_out += int(keep.sum())
            src = batch.column("src").to_numpy()[keep]
            dst = batch.column("dst").to_numpy()[keep]
            writer.write_table(pa.table([pa.array(src, pa.int64()), pa.array(dst, pa.int64())], schema=EDGE_SCHEMA))
    return n_in, n_out
