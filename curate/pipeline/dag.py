"""Pipeline graphs: named stage nodes, validation before any work, and execution phases.

A pipeline is a graph of named nodes. Each node runs one stage on the ``kept`` output of its
input node (by default the node before it). Validation (unknown stage, unknown or mistyped
parameter, missing input, cycle, model file missing) happens when the graph is built, before
any work starts, and names the node and, for YAML, the line.

Execution is split into *segments* at global stages: segment j = [apply of global stage j-1]
+ the map stages that follow, fused into one pass + [summarize of global stage j]. Between
segments each task's kept rows are kept as Parquet under ``_work/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class
from curate.pipeline.settings import RunSettings
from curate.pipeline.stage import GlobalStage, MapStage, Stage
from curate.storage import Storage, parse

NODE_KEYS = {"stage", "name", "params", "input"}
TOP_KEYS = {"name", "description", "stages", "settings", "input_columns"}


@dataclass
class Node:
    name: str
    stage: Stage
    input: str | None = None
    line: int | None = None

    @property
    def is_global(self) -> bool:
        return isinstance(self.stage, GlobalStage)


@dataclass
class Segment:
    """One pass over every task: optional global apply, fused map stages, optional global summarize."""

    index: int
    apply: Node | None
    maps: list[Node]
    summarize: Node | None

    @property
    def nodes(self) -> list[Node]:
        return [n for n in [self.apply, *self.maps] if n is not None]


@dataclass
class Graph:
    nodes: list[Node]
    name: str = "pipeline"
    settings: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the YAML file, for error messages
    # Columns the user says the input has besides id and text; when given, required columns are
    # checked as the graph is built, else at the start of a run against the input's real schema.
    input_columns: list[str] | None = None

    def __post_init__(self) -> None:
        self._validate()
        if self.input_columns is not None:
            self.check_columns({schema.ID, schema.TEXT, *self.input_columns})

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_specs(cls, specs: list[dict[str, Any]], name: str = "pipeline", settings: dict[str, Any] | None = None,
                   source: str | None = None, input_columns: list[str] | None = None) -> Graph:
        """Build from a list of ``{"stage": ..., "name": ..., "params": {...}, "input": ...}`` dicts."""
        nodes: list[Node] = []
        seen: dict[str, int] = {}
        for i, spec in enumerate(specs):
            line = spec.pop("__line__", None) if isinstance(spec, dict) else None
            where = _where(source, line, i)
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
            seen[node_name] = seen.get(node_name, 0) + 1
            nodes.append(Node(node_name, stage, spec.get("input"), line))
        raw = settings or {}
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k != "__line__"}
        settings = RunSettings.check_yaml(raw, source)
        if input_columns is not None and not (isinstance(input_columns, list)
                                              and all(isinstance(c, str) for c in input_columns)):
            raise ConfigError(f"{source or 'pipeline'}: 'input_columns' must be a list of column names")
        return cls(nodes, name=name, settings=settings, source=source, input_columns=input_columns)

    @classmethod
    def from_yaml(cls, path: str | Path, storage: Storage | None = None) -> Graph:
        """Load a pipeline YAML from a local path or a URI (read with `storage`'s options)."""
        storage = storage or Storage()
        if not storage.exists(path):
            raise ConfigError(f"pipeline file not found: {path}")
        text = storage.read_text(path)
        path = Path(parse(path).path)  # for messages and the default name
        try:
            data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not data["stages"]:
            raise ConfigError(f"{path}: a pipeline needs a non-empty 'stages:' list")
        unknown = set(data) - TOP_KEYS - {"__line__"}
        if unknown:
            raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
        return cls.from_specs(data["stages"], name=data.get("name", path.stem), settings=data.get("settings"),
                              source=str(path), input_columns=strip_lines(data.get("input_columns")))

    # ---- validation ---------------------------------------------------------------------
    def _validate(self) -> None:
        names = [n.name for n in self.nodes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ConfigError(f"duplicate stage name(s): {', '.join(sorted(dupes))}")
        index = {n.name: i for i, n in enumerate(self.nodes)}
        # resolve inputs and detect cycles by walking input links
        for i, node in enumerate(self.nodes):
            if node.input is None:
                continue
            ref = node.input.split(".")[0]
            if ref not in index:
                raise ConfigError(f"{_where(None, node.line, i)}: stage '{node.name}' reads input '{node.input}', "
                                  "which is not a stage of this pipeline")
        for node in self.nodes:
            seen = {node.name}
            cur = node
            while cur.input is not None:
                nxt = self.nodes[index[cur.input.split('.')[0]]]
                if nxt.name in seen:
                    raise ConfigError(f"cycle in pipeline: {' -> '.join([*seen, nxt.name])}")
                seen.add(nxt.name)
                cur = nxt
        for i, node in enumerate(self.nodes):
            if node.input is not None:
                expected = self.nodes[i - 1].name if i > 0 else None
                if node.input not in (expected, f"{expected}.kept"):
                    raise ConfigError(
                        f"stage '{node.name}': input '{node.input}' is not supported; each stage reads the kept "
                        f"output of the stage before it ({expected}), and rejected rows go to _rejected/")
        for node in self.nodes:
            if not isinstance(node.stage, (MapStage, GlobalStage)):
                raise ConfigError(f"stage '{node.name}' is neither a map nor a global stage")

    def check(self) -> None:
        """Checks that need the file system (model files, plan files); called before any work."""
        for i, node in enumerate(self.nodes):
            try:
                node.stage.check()
            except ConfigError as exc:
                raise ConfigError(f"{_where(self.source, node.line, i)}: stage '{node.name}': {exc}") from None

    def check_columns(self, available: set[str]) -> None:
        """Every stage's required columns must come from the input (`available`) or an earlier
        stage; the error names the stage and, where one exists, the stage that makes the column."""
        have = set(available)
        for i, node in enumerate(self.nodes):
            missing = [c for c in node.stage.required_columns() if c not in have]
            if missing:
                col = missing[0]
                later = [n.name for n in self.nodes[i + 1:] if col in (n.stage.produced_columns() or ())]
                hint = (f"stage '{later[0]}' makes it but runs after '{node.name}'" if later else
                        _producer_hint(col))
                raise ConfigError(f"{_where(self.source, node.line, i)}: stage '{node.name}' needs column '{col}', "
                                  f"which neither the input nor an earlier stage provides ({hint})")
            produced = node.stage.produced_columns()
            if produced is None:  # a stage that declares nothing may make anything: stop checking
                return
            have.update(produced)

    # ---- phases -------------------------------------------------------------------------
    def segments(self) -> list[Segment]:
        segs: list[Segment] = []
        apply: Node | None = None
        maps: list[Node] = []
        for node in self.nodes:
            if node.is_global:
                segs.append(Segment(len(segs), apply, maps, node))
                apply, maps = node, []
            else:
                maps.append(node)
        segs.append(Segment(len(segs), apply, maps, None))
        return segs

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": n.name, **n.stage.describe()} for n in self.nodes]


def _where(source: str | None, line: int | None, i: int) -> str:
    parts = [source or "pipeline"]
    if line is not None:
        parts.append(f"line {line}")
    parts.append(f"stage #{i + 1}")
    return ", ".join(parts)


def _unique(base: str, seen: dict[str, int]) -> str:
    return base if base not in seen else f"{base}_{seen[base] + 1}"


def _producer_hint(column: str) -> str:
    """Which registered stages make `column`, for an error message."""
    from curate.pipeline.registry import stage_classes

    makers = sorted(c.name for c in stage_classes() if c.can_make(column))
    if makers:
        return f"made by stage {' or '.join(repr(m) for m in makers)}; or declare it in input_columns"
    return "declare it in input_columns if the input has it"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the 1-based line of every mapping as '__line__'."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
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
