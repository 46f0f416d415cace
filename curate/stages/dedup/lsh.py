"""LSH banding: the choice of bands x rows, and candidate edges per band computed out of core.

A pair of documents with Jaccard similarity s shares at least one of b bands of r rows with
probability P(s) = 1 - (1 - s^r)^b (the S-curve; Leskovec, Rajaraman, Ullman, "Mining of Massive
Datasets", 3rd ed., section 3.4.2); the curve is steepest near (1/b)^(1/r).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from curate.errors import ConfigError
from curate.faults import checkpoint
from curate.store.duck import connect, sql_list, sql_path
from curate.store.state import StageStore

MIN_DETECTION = 0.9  # required P(candidate | J = threshold) when bands x rows are chosen for the user


@dataclass(frozen=True)
class BandChoice:
    """A bands x rows split and its properties at the dedup threshold."""

    bands: int
    rows: int
    s_curve_threshold: float  # (1/b)^(1/r): where the S-curve is steepest
    p_detect: float  # P(candidate pair | J = threshold)
    false_positive_area: float  # integral of P(s) over [0, threshold]

    def describe(self, threshold: float) -> str:
        return (
            f"LSH: {self.bands} bands x {self.rows} rows (S-curve threshold {self.s_curve_threshold:.3f}, "
            f"P(candidate | J={threshold:.2f}) = {self.p_detect:.3f})"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def detection_probability(s: np.ndarray | float, bands: int, rows: int) -> np.ndarray | float:
    """P(a pair with Jaccard s shares at least one band) = 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - np.asarray(s, dtype=np.float64) ** rows) ** bands


def describe_split(threshold: float, bands: int, rows: int) -> BandChoice:
    """Properties of a given split at `threshold`."""
    grid = np.linspace(0.0, threshold, 1001)
    p = detection_probability(grid, bands, rows)
    area = float(np.sum((p[1:] + p[:-1]) * np.diff(grid)) / 2)  # trapezoid rule
    return BandChoice(
        bands=bands,
        rows=rows,
        s_curve_threshold=float((1.0 / bands) ** (1.0 / rows)),
        p_detect=float(detection_probability(threshold, bands, rows)),
        false_positive_area=area,
    )


def choose_bands(threshold: float, num_perm: int, bands: int | None = None, rows: int | None = None) -> BandChoice:
    """The user's split if given (a missing side is num_perm // other), else the best one.

    Best = among the splits with as many bands as fit for each row count (b = num_perm // r), the
    one with the smallest false-positive area below `threshold` whose detection probability at
    `threshold` is at least MIN_DETECTION; if none reaches it, the one with the highest detection
    probability. At threshold 0.8 with 112 hashes this is 14 x 8.
    """
    if bands is not None or rows is not None:
        if bands is None:
            bands = num_perm // rows
        if rows is None:
            rows = num_perm // bands
        if bands < 1 or rows < 1 or bands * rows > num_perm:
            raise ConfigError(f"minhash_dedup: {bands} bands x {rows} rows need more than num_perm={num_perm} hashes")
        return describe_split(threshold, bands, rows)
    splits = [describe_split(threshold, num_perm // r, r) for r in range(1, num_perm + 1)]
    ok = [c for c in splits if c.p_detect >= MIN_DETECTION]
    if ok:
        return min(ok, key=lambda c: (c.false_positive_area, c.bands))
    return max(splits, key=lambda c: (c.p_detect, -c.bands))


def duckdb_connection(store: StageStore, memory_mb: int) -> Any:
    """This process's single-threaded DuckDB connection for band and check jobs, spilling to the
    scratch of the node that runs the job, reused across the jobs of one run (see
    curate.store.duck.connect)."""
    return connect(store.scratch / "duckdb_tmp", memory_mb, threads=1, reuse=True)


@dataclass(frozen=True)
class BandJob:
    """One band's work: group the partials' `column` by key and write k - 1 edges per bucket.

    Every path is in the work store (`store`'s storage), never on the driver's disk: the job may
    run on any node of a cluster that shares nothing but that storage.
    """

    store: StageStore
    partials: tuple[str, ...]
    column: str
    task_column: str
    row_column: str
    out_path: str
    memory_mb: int


def band_edges(job: BandJob) -> int:
    """Write (src, dst) edges linking every member of a band bucket to its smallest member.

    Documents are packed as task << 32 | row, so "smallest" follows the global document order.
    DuckDB reads the partials from this node's copies (:meth:`StageStore.local_files`) and
    aggregates and joins out of core under `memory_mb`; the edges go to the store. Returns the
    number of edges.
    """
    partials = job.store.local_files(list(job.partials))
    checkpoint("minhash_band")
    con = duckdb_connection(job.store, job.memory_mb)
    doc = f"(CAST({job.task_column} AS BIGINT) << 32) | CAST({job.row_column} AS BIGINT)"
    with job.store.local_output(job.out_path) as out:
        sql = f"""
            COPY (
                WITH b AS NOT MATERIALIZED (
                    SELECT {job.column} AS k, {doc} AS doc
                    FROM read_parquet({sql_list(partials)})
                    WHERE {job.column} IS NOT NULL
                ),
                r AS (SELECT k, min(doc) AS root FROM b GROUP BY k HAVING count(*) > 1)
                SELECT b.doc AS src, r.root AS dst FROM b JOIN r USING (k) WHERE b.doc <> r.root
            ) TO '{sql_path(out)}' (FORMAT parquet, COMPRESSION zstd)
        """
        n_edges = con.execute(sql).fetchone()[0]
    return int(n_edges)
