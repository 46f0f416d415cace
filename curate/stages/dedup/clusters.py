"""Duplicate clusters: union-find over edges, and the deterministic keep rule.

Shared by the dedup stages. Documents are dense integers 0..n-1 in global order (task, row).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class UnionFind:
    """Connected components of n documents; each component is named by its smallest member.

    Vectorized "hook and compress" (the scheme of Shiloach and Vishkin, "An O(log n) parallel
    connectivity algorithm", J. Algorithms 1982): every edge whose ends lie in different trees
    hooks the larger root under the smaller one, then pointer jumping flattens every tree; repeat
    until no edge joins two trees. parent[i] <= i always holds, so the result (each root = the
    smallest member of its component) does not depend on the order of the edges. Edges can come
    in any number of batches; memory is the parent array plus one batch.
    """

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def union(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Merge the components of src[i] and dst[i] for every i."""
        if len(src) != len(dst):
            raise ValueError("src and dst differ in length")
        parent = self.parent
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        while len(src):
            a, b = parent[src], parent[dst]  # roots: the forest is flat between rounds
            apart = a != b
            if not apart.any():
                return
            src, dst, a, b = src[apart], dst[apart], a[apart], b[apart]  # the others are done
            np.minimum.at(parent, np.maximum(a, b), np.minimum(a, b))  # hook roots
            self._flatten()

    def _flatten(self) -> None:
        """Pointer jumping: parent <- parent[parent] until every node points at its root
        (log2 of the tallest tree's height passes)."""
        parent = self.parent
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return
            parent[:] = grand

    def roots(self) -> np.ndarray:
        """Component (smallest member) of every document."""
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
