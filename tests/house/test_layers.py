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
    "curate.errors": 0, "curate.schema": 0,
    "curate.faults": 1, "curate.registry": 1, "curate.kernels": 1, "curate.lean_imports": 1,
    "curate.store": 2,
    "curate.io": 3, "curate.text": 3, "curate.sample_data": 3, "curate.sample_pages": 3,
    "curate.classifiers": 4, "curate.executors": 4, "curate.sinks": 4, "curate.planner": 4,
    "curate.pipeline": 5,
    "curate.stages": 6, "curate.run_report": 6,
    "curate.api": 7, "curate.train_models": 7,
    "curate.cli": 8,
    "curate": 9,  # the package itself: its __init__ is the public face (the API, imported lazily)
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return module if len(parts) == 1 else ".".join(parts[:2])


MODULES = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
           for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(module imported, at module level?, line) for every import of curate in the file; ``from
    P import M`` imports the module P.M when there is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    top |= {id(c) for n in tree.body if isinstance(n, (ast.If, ast.Try)) and not _type_checking(n) for c in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "curate":
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                       for a in node.names if a.name != "__version__"]  # the version: a constant, not an API
            found += [(t, id(node) in top, node.lineno) for t in targets]
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top, node.lineno) for a in node.names if a.name.split(".")[0] == "curate"]
    return found


def _type_checking(node: ast.stmt) -> bool:
    """An ``if TYPE_CHECKING:`` block: imports for annotations only, never run."""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


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
    assert set(modules) == MODULES
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
