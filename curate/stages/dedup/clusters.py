"""Duplicate clusters: union-find over edges, and the deterministic keep rule.

Shared by the dedup stages. Documents are dense integers 0..n-1 in global order (task, row).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _union_edges(parent: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
    # Union by smaller index with path halving: parent[i] <= i always holds, so every root is the
    # smallest member of its component whatever the order of the edges (deterministic).
    for i in range(len(src)):
        x = src[i]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = dst[i]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y


def _flatten(parent: np.ndarray) -> None:
    # parent[i] < i for non-roots, so one pass in increasing order points everyone at its root.
    for i in range(len(parent)):
        parent[i] = parent[parent[i]]


@functools.cache
def _kernels() -> tuple[Callable, Callable]:
    import numba  # compiled lazily: stage discovery must not import numba

    return numba.njit(cache=True)(_union_edges), numba.njit(cache=True)(_flatten)


class UnionFind:
    """Connected components of n documents; each component is named by its smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def union(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Merge the components of src[i] and dst[i] for every i."""
        if len(src) != len(dst):
            raise ValueError("src and dst differ in length")
        if len(src):
            _kernels()[0](self.parent, np.ascontiguousarray(src, np.int64), np.ascontiguousarray(dst, np.int64))

    def roots(self) -> np.ndarray:
        """Component (smallest member) of every document."""
        _kernels()[1](self.parent)
        return self.parent


# Keep rule, in order: highest quality score (missing = lowest), longest text, smallest id.
KEEPER_ORDER = (("quality", "descending"), ("length", "descending"), ("id", "ascending"))


def choose_keepers(
    members: pa.Table,
    cluster: str = "cluster",
    doc_id: str = "id",
    length: str = "length",
    quality: str = "quality",
    count: str = "count",
) -> pa.Table:
    """Decide the keeper of each cluster; return `members` sorted by cluster, then keep order,
    with columns keep (bool), cluster_id (the keeper's id) and cluster_count (sum of `count`).

    Keep rule: highest `quality` (null counts as lowest), then longest `length`, then smallest
    `doc_id` (byte order). Deterministic whatever the input order.
    """
    names = {"quality": quality, "length": length, "id": doc_id}
    keys = [(cluster, "ascending", "at_end")] + [(names[k], order, "at_end") for k, order in KEEPER_ORDER]
    if len(members) == 0:
        return members.append_column("keep", pa.array([], pa.bool_())).append_column(
            "cluster_id", pa.array([], pa.string())
        ).append_column("cluster_count", pa.array([], pa.int64()))
    order = pc.sort_indices(members, sort_keys=keys)
    members = members.take(order)
    clusters = members.column(cluster).to_numpy()
    first = np.r_[True, clusters[1:] != clusters[:-1]]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    counts = members.column(count).to_numpy().astype(np.int64)
    totals = np.add.reduceat(counts, starts)[group]
    keeper_ids = members.column(doc_id).take(pa.array(starts[group]))
    return (
        members.append_column("keep", pa.array(first))
        .append_column("cluster_id", keeper_ids)
        .append_column("cluster_count", pa.array(totals, pa.int64()))
    )
