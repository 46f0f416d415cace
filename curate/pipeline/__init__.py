"""Pipeline runtime: stage shapes, registry, graph, stats."""
