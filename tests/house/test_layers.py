"""Imports point down: every module of a package imports only from packages on a lower layer (or
its own), whatever the import's place (top of the module or inside a function), and the
module-level imports have no cycle. The layers, lowest first, are the ones docs/architecture.md
names; a new package is placed here when it is added."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "curate"
# unit -> layer; a unit is a package under curate/ or a module at its top
LAYERS: dict[str, int] = {
    "curate.errors": 0, "curate.schema": 0, "curate.faults": 0, "curate.registry": 0, "curate.kernels": 0,
    "curate.store": 1,
    "curate.io": 2, "curate.text": 2, "curate.sample_data": 2,
    "curate.classifiers": 3, "curate.executors": 3, "curate.sinks": 3, "curate.planner": 3,
    "curate.pipeline": 4,
    "curate.stages": 5,
    "curate.api": 6, "curate.train_models": 6,
    "curate.cli": 7,
    "curate": 8,  # the package itself: its __init__ is the public face (the API, imported lazily)
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return module if len(parts) == 1 else ".".join(parts[:2])


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(module imported, at module level?, line) for every import of curate in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    top |= {id(c) for n in tree.body if isinstance(n, (ast.If, ast.Try)) for c in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "curate":
            targets = [f"curate.{a.name}" for a in node.names] if node.module == "curate" else [node.module]
            found += [(t, id(node) in top, node.lineno) for t in targets if t != "curate.__version__"]
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top, node.lineno) for a in node.names if a.name.split(".")[0] == "curate"]
    return found


def test_every_import_points_down() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(_module(path))
        assert source in LAYERS, f"{source} has no layer: add it to LAYERS (and to docs/architecture.md)"
        for target, _, line in _imports(path):
            dest = _unit(target)
            if dest != source and LAYERS[dest] >= LAYERS[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target} (layer {LAYERS[dest]} from "
                             f"layer {LAYERS[source]})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_module_level_imports_have_no_cycle() -> None:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target, at_top, _ in _imports(path):
            if at_top and target in modules and target != name:
                graph[name].add(target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "import cycle: " + " -> ".join(trail[trail.index(node):] + [node])
        state[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, [*trail, node])
        state[node] = 2

    for name in sorted(modules):
        visit(name, [])


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The scanner itself: an import inside a function is found, and so is one at the top."""
    sample = tmp_path / "m.py"
    sample.write_text("import curate.cli\n\ndef f():\n    from curate.api import run\n", encoding="utf-8")
    assert [(t, top) for t, top, _ in _imports(sample)] == [("curate.cli", True), ("curate.api", False)]
