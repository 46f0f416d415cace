"""Union-find and the keep rule: deterministic whatever the order of edges and rows."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.stages.dedup.clusters import UnionFind, choose_keepers


def _components_by_search(n: int, edges: list[tuple[int, int]]) -> list[int]:
    adjacent = defaultdict(list)
    for a, b in edges:
        adjacent[a].append(b)
        adjacent[b].append(a)
    label = [-1] * n
    for start in range(n):
        if label[start] >= 0:
            continue
        stack, seen = [start], [start]
        label[start] = start
        while stack:
            for nxt in adjacent[stack.pop()]:
                if label[nxt] < 0:
                    label[nxt] = start
                    stack.append(nxt)
                    seen.append(nxt)
        for node in seen:
            label[node] = min(seen)
    return label


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.integers(1, 60).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80))
))
def test_union_find_equals_graph_search_for_any_edge_order(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    expected = _components_by_search(n, edges)
    for order in (edges, edges[::-1], sorted(edges, key=lambda e: (e[1], e[0]))):
        uf = UnionFind(n)
        uf.union(np.array([e[0] for e in order], np.int64), np.array([e[1] for e in order], np.int64))
        assert uf.roots().tolist() == expected  # each component named by its smallest member


def test_union_find_accepts_edges_in_several_calls() -> None:
    uf = UnionFind(6)
    uf.union(np.array([5]), np.array([3]))
    uf.union(np.array([3, 1]), np.array([1, 0]))
    uf.union(np.array([], np.int64), np.array([], np.int64))
    assert uf.roots().tolist() == [0, 0, 2, 0, 4, 0]


def test_keep_rule_is_independent_of_row_order() -> None:
    members = pa.table({
        "cluster": [7, 7, 7, 7, 2, 2, 2],
        "id": ["d", "a", "c", "b", "x", "y", "w"],
        "length": [10, 10, 30, 30, 5, 5, 5],
        "quality": [None, None, None, None, 0.1, None, 0.1],
        "count": [1, 2, 1, 1, 1, 4, 1],
    })
    rng = np.random.default_rng(0)
    results = set()
    for _ in range(5):
        shuffled = members.take(pa.array(rng.permutation(len(members))))
        decided = choose_keepers(shuffled)
        keepers = {
            (c, i, n) for c, i, k, n in zip(decided.column("cluster").to_pylist(), decided.column("id").to_pylist(),
                                            decided.column("keep").to_pylist(),
                                            decided.column("cluster_count").to_pylist(), strict=True) if k
        }
        results.add(frozenset(keepers))
        ids_to_cluster_id = dict(zip(decided.column("id").to_pylist(), decided.column("cluster_id").to_pylist(),
                                     strict=True))
        assert ids_to_cluster_id["a"] == "b" and ids_to_cluster_id["y"] == "w"
    # cluster 7: no quality, longest texts b and c tie, smallest id b; cluster 2: quality 0.1 ties, w < x
    assert results == {frozenset({(7, "b", 5), (2, "w", 6)})}


def test_keep_rule_on_no_members() -> None:
    empty = pa.table({"cluster": pa.array([], pa.int64()), "id": pa.array([], pa.string()),
                      "length": pa.array([], pa.int64()), "quality": pa.array([], pa.float64()),
                      "count": pa.array([], pa.int64())})
    assert choose_keepers(empty).num_rows == 0
