"""Pipeline specs into graphs: YAML files (with the line of every entry, for messages) and lists of
``{"stage": ..., "name": ..., "params": {...}, "input": ...}`` with an ``outputs:`` mapping, as
the YAML and the Python builder give them. Parsing only; the graph checks its own structure
(curate.pipeline.graph) and :mod:`curate.pipeline.validate` the columns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from curate import schema
from curate.errors import ConfigError
from curate.pipeline import yaml_limits
from curate.pipeline.graph import INPUT_NODE, KEPT, Graph, Node, StreamRef, where_in
from curate.pipeline.registry import get_stage_class
from curate.pipeline.settings import RunSettings
from curate.pipeline.validate import check_columns
from curate.sinks import SinkSpec
from curate.store.storage import Storage, parse

NODE_KEYS = {"stage", "name", "params", "input"}
TOP_KEYS = {"name", "description", "stages", "settings", "input_columns", "outputs"}
SINK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def build_graph(specs: list[dict[str, Any]], *, name: str = "pipeline", settings: dict[str, Any] | None = None,
                source: str | None = None, input_columns: list[str] | None = None,
                outputs: dict[str, Any] | None = None) -> Graph:
    """A graph from a list of ``{"stage": ..., "name": ..., "params": {...}, "input": ...}`` dicts
    and an ``outputs`` mapping of sink name -> ``NODE[.output]`` (or a sink entry). With
    `input_columns` (the columns the user says the input has besides id and text) every stage's
    required columns are checked now, else at the start of a run against the input's schema."""
    nodes: list[Node] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        line = spec.pop("__line__", None) if isinstance(spec, dict) else None
        where = where_in(source, line, i)
        if isinstance(spec, str):
            spec = {"stage": spec}
        if not isinstance(spec, dict) or "stage" not in spec:
            raise ConfigError(f"{where}: each stage needs a 'stage:' key naming the stage")
        unknown = set(spec) - NODE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(NODE_KEYS))})")
        params = strip_lines(spec.get("params") or {})
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: 'params' must be a mapping")
        try:
            cls_ = get_stage_class(str(spec["stage"]))
            stage = cls_(**params)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        node_name = spec.get("name") or _unique(cls_.name or str(spec["stage"]), seen)
        if not isinstance(node_name, str) or not SINK_NAME.match(node_name) or "." in node_name:
            raise ConfigError(f"{where}: stage name {node_name!r} must be letters, digits, '_' or '-'")
        seen[node_name] = seen.get(node_name, 0) + 1
        nodes.append(Node(node_name, stage, _parse_inputs(spec.get("input"), nodes, where), line, i))
    raw = settings or {}
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "__line__"}
    settings = RunSettings.check_yaml(raw, source)
    if input_columns is not None and not (isinstance(input_columns, list)
                                          and all(isinstance(c, str) for c in input_columns)):
        raise ConfigError(f"{source or 'pipeline'}: 'input_columns' must be a list of column names")
    specs = _parse_outputs(outputs, source)
    graph = Graph(nodes, name=name, settings=settings, source=source, input_columns=input_columns,
                  outputs={n: StreamRef.parse(s.source) for n, s in specs.items()},
                  output_lines={n: s.yaml_line for n, s in specs.items()}, sink_specs=specs)
    if input_columns is not None:
        check_columns(graph, {schema.ID, schema.TEXT, *input_columns})
    return graph


def load_graph(path: str | Path, storage: Storage) -> Graph:
    """Load a pipeline YAML from a local path or a URI (read with `storage`'s options)."""
    if not storage.exists(path):
        raise ConfigError(f"pipeline file not found: {path}")
    text = storage.read_text(path)
    path = Path(parse(path).path)  # for messages and the default name
    try:
        data = yaml_limits.load(text, _LineLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not data["stages"]:
        raise ConfigError(f"{path}: a pipeline needs a non-empty 'stages:' list")
    unknown = set(data) - TOP_KEYS - {"__line__"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    graph = build_graph(data["stages"], name=data.get("name", path.stem), settings=data.get("settings"),
                        source=str(path), input_columns=strip_lines(data.get("input_columns")),
                        outputs=data.get("outputs"))
    graph.check_complete()
    return graph



def _parse_inputs(spec: Any, earlier: list[Node], where: str) -> list[StreamRef]:
    """A node's inputs: by default the kept rows of the node before it (the input for the first)."""
    if spec is None:
        if not earlier:
            return [StreamRef(INPUT_NODE)]
        prev = earlier[-1]
        if KEPT not in prev.ports:
            raise ConfigError(f"{where}: the stage before it, '{prev.name}', has named outputs "
                              f"({', '.join(prev.stage.output_names())}); say which to read with 'input: "
                              f"{prev.name}.<output>'")
        return [StreamRef(prev.name)]
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise ConfigError(f"{where}: 'input' lists no outputs")
    try:
        return [StreamRef.parse(x) for x in items]
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _parse_outputs(outputs: Any, source: str | None) -> dict[str, SinkSpec]:
    """Sink name -> spec: ``NAME: NODE[.output]`` (Parquet) or ``NAME: {from: ..., format: ...}``."""
    where = source or "pipeline"
    if outputs is None:
        return {}
    if not isinstance(outputs, dict):
        raise ConfigError(f"{where}: 'outputs' must map sink names to stage outputs, e.g. {{curated: dedup}}")
    line = outputs.get("__line__")
    specs = {}
    for name, value in outputs.items():
        if name == "__line__":
            continue
        if not isinstance(name, str) or not SINK_NAME.match(name):
            raise ConfigError(f"{where}, line {line}: sink name {name!r} must be letters, digits, '_', '-' or '.', "
                              "and not start with '_' or '.'")
        entry_line = value.get("__line__", line) if isinstance(value, dict) else line
        try:
            spec = SinkSpec.from_config(name, value, entry_line)
            StreamRef.parse(spec.source)
        except ConfigError as exc:
            raise ConfigError(f"{where}, line {entry_line}: output '{name}': {exc}") from None
        specs[name] = spec
    if not specs:
        raise ConfigError(f"{where}, line {line}: 'outputs' names no sink")
    return specs


def _unique(base: str, seen: dict[str, int]) -> str:
    return base if base not in seen else f"{base}_{seen[base] + 1}"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the 1-based line of every mapping as '__line__' and refuses a key
    given twice in one mapping (two sinks, two settings of one name)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        dupes = sorted({str(k) for k in keys if keys.count(k) > 1})
        if dupes:
            raise yaml.constructor.ConstructorError(None, None, f"key '{dupes[0]}' given twice in one mapping",
                                                    node.start_mark)
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def strip_lines(obj: Any) -> Any:
    """Remove the '__line__' bookkeeping from loaded YAML data."""
    if isinstance(obj, dict):
        return {k: strip_lines(v) for k, v in obj.items() if k != "__line__"}
    if isinstance(obj, list):
        return [strip_lines(v) for v in obj]
    return obj
