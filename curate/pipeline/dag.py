"""Pipeline graphs: named stage nodes, the streams between them, and named sinks.

A node runs one stage on one input stream: the kept rows of another node (``input: NAME``, by
default the node before it), its rejected rows (``NAME.rejected``, arriving kept with their
reason in ``upstream_reject_reason``), one of its named outputs (``NAME.code``, a route's), or a
union of several of these from the same input (``input: [a, b.rejected]``, merged in input
order). Several nodes may read one stream. Top-level ``outputs:`` names the sinks written
under OUTPUT. Validation (unknown stage, parameter, node or output; a cycle; a union of
different inputs; missing columns; model files) happens before any work, naming the node and,
for YAML, the line. How a graph runs is curate.pipeline.passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curate import schema
from curate.errors import ConfigError
from curate.pipeline import yaml_limits
from curate.pipeline.registry import get_stage_class
from curate.pipeline.settings import RunSettings
from curate.pipeline.stage import GlobalStage, MapStage, ReshapingStage, Stage
from curate.schema import UPSTREAM_REJECT_REASON
from curate.sinks import SinkSpec
from curate.storage import Storage, active, parse

NODE_KEYS = {"stage", "name", "params", "input"}
TOP_KEYS = {"name", "description", "stages", "settings", "input_columns", "outputs"}
KEPT, REJECTED = "kept", "rejected"
INPUT_NODE = ""  # the pipeline's input, as the producer of a stream
SINK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, order=True)
class StreamRef:
    """One output of one node: its kept rows, its rejected rows, or a named output (a route's).
    ``node`` is INPUT_NODE for the pipeline's input."""

    node: str
    port: str = KEPT

    def __str__(self) -> str:
        if self.node == INPUT_NODE:
            return "the input"
        return self.node if self.port == KEPT else f"{self.node}.{self.port}"

    @classmethod
    def parse(cls, text: Any) -> StreamRef:
        if not isinstance(text, str) or not text or text.startswith(".") or text.count(".") > 1:
            raise ConfigError(f"input {text!r} must be NAME, NAME.rejected or NAME.<output>")
        node, _, port = text.partition(".")
        return cls(node, port or KEPT)


@dataclass
class Node:
    name: str
    stage: Stage
    inputs: list[StreamRef] = field(default_factory=list)
    line: int | None = None
    index: int = 0  # position in the pipeline's stage list, for messages

    @property
    def is_global(self) -> bool:
        return isinstance(self.stage, GlobalStage)

    @property
    def is_union(self) -> bool:
        return len(self.inputs) > 1

    @property
    def ports(self) -> tuple[str, ...]:
        """The outputs other nodes and sinks may read."""
        named = self.stage.output_names()
        return (*named, REJECTED) if named else (KEPT, REJECTED)


@dataclass
class Graph:
    """A validated pipeline graph: nodes in the order given, each reading one output of another
    node (or a union of several), plus named sinks. See docs/architecture.md, "Graphs"."""

    nodes: list[Node]
    name: str = "pipeline"
    settings: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the YAML file, for error messages
    # Columns the user says the input has besides id and text; when given, required columns are
    # checked as the graph is built, else at the start of a run against the input's real schema.
    input_columns: list[str] | None = None
    # sink name -> the stream it writes; empty: the last node's kept rows go to OUTPUT/ itself
    outputs: dict[str, StreamRef] = field(default_factory=dict)
    output_lines: dict[str, int | None] = field(default_factory=dict)
    sink_specs: dict[str, SinkSpec] = field(default_factory=dict)  # sink name -> its format and options
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._validate()
        if self.input_columns is not None:
            self.check_columns({schema.ID, schema.TEXT, *self.input_columns})

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_specs(cls, specs: list[dict[str, Any]], name: str = "pipeline", settings: dict[str, Any] | None = None,
                   source: str | None = None, input_columns: list[str] | None = None,
                   outputs: dict[str, Any] | None = None) -> Graph:
        """Build from a list of ``{"stage": ..., "name": ..., "params": {...}, "input": ...}`` dicts
        and an ``outputs`` mapping of sink name -> ``NODE[.output]``."""
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
        return cls(nodes, name=name, settings=settings, source=source, input_columns=input_columns,
                   outputs={n: StreamRef.parse(s.source) for n, s in specs.items()},
                   output_lines={n: s.yaml_line for n, s in specs.items()}, sink_specs=specs)

    @classmethod
    def from_yaml(cls, path: str | Path, storage: Storage | None = None) -> Graph:
        """Load a pipeline YAML from a local path or a URI (read with `storage`'s options)."""
        storage = storage or active()
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
        graph = cls.from_specs(data["stages"], name=data.get("name", path.stem), settings=data.get("settings"),
                               source=str(path), input_columns=strip_lines(data.get("input_columns")),
                               outputs=data.get("outputs"))
        graph.check_complete()
        return graph

    # ---- lookups --------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return self._by_name[name]

    def sink_spec(self, name: str) -> SinkSpec:
        """How sink `name` is written (the unnamed sink: Parquet)."""
        return self.sink_specs.get(name) or SinkSpec.from_config(name, self.sinks[name].node)

    def sinks_of(self, ref: StreamRef) -> list[str]:
        return [name for name, r in self.sinks.items() if r == ref]

    @property
    def sinks(self) -> dict[str, StreamRef]:
        """Sink name -> stream; without ``outputs:`` the one unnamed sink ("") is the last node's
        kept rows, written to OUTPUT/ itself."""
        return self.outputs or {"": StreamRef(self.nodes[-1].name)}

    def ancestors(self, name: str) -> list[str]:
        """Nodes upstream of `name`, nearest first (breadth first, inputs in the order listed)."""
        out: list[str] = []
        frontier = [r.node for r in self.node(name).inputs]
        while frontier:
            nxt = []
            for a in frontier:
                if a != INPUT_NODE and a not in out:
                    out.append(a)
                    nxt.extend(r.node for r in self.node(a).inputs)
            frontier = nxt
        return out

    def topological(self) -> list[Node]:
        """Nodes in an order where every node comes after the nodes it reads (pipeline order
        where the graph allows)."""
        return self._topo

    # ---- validation ---------------------------------------------------------------------
    def _where(self, node: Node) -> str:
        return _where(self.source, node.line, node.index)

    def _validate(self) -> None:
        names = [n.name for n in self.nodes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ConfigError(f"duplicate stage name(s): {', '.join(sorted(dupes))}")
        if READ_NODE in names:
            raise ConfigError(f"'{READ_NODE}' names the runner's own read step; choose another stage name")
        self._by_name = {n.name: n for n in self.nodes}
        for node in self.nodes:
            if not isinstance(node.stage, (MapStage, GlobalStage)):
                raise ConfigError(f"stage '{node.name}' is neither a map nor a global stage")
            for ref in node.inputs:
                self._check_ref(ref, f"{self._where(node)}: stage '{node.name}' reads input '{ref}'")
            if len(set(node.inputs)) != len(node.inputs):
                raise ConfigError(f"{self._where(node)}: stage '{node.name}' lists one input twice in its union")
        self._topo = self._sort()
        self._check_unions()
        for node in self.nodes:
            try:
                node.stage.check_upstream([self._by_name[a].stage for a in self.ancestors(node.name)])
            except ConfigError as exc:
                raise ConfigError(f"{self._where(node)}: {exc}") from None
        for sink, ref in self.outputs.items():
            line = self.output_lines.get(sink)
            where = f"{self.source or 'pipeline'}" + (f", line {line}" if line else "")
            self._check_ref(ref, f"{where}: output '{sink}' writes '{ref}'")
        self._warn_unread()

    def check_complete(self) -> None:
        """What a graph being built may lack but a run needs: something to write. Without
        ``outputs:`` the last stage's kept rows are the output, so it must have kept rows."""
        if not self.outputs and KEPT not in self.nodes[-1].ports:
            last = self.nodes[-1]
            raise ConfigError(f"{self._where(last)}: the last stage '{last.name}' has named outputs "
                              f"({', '.join(last.stage.output_names())}); name what to write in 'outputs:'")

    def _check_ref(self, ref: StreamRef, what: str) -> None:
        if ref.node == INPUT_NODE:
            return
        if ref.node not in self._by_name:
            raise ConfigError(f"{what}, but there is no stage '{ref.node}' in this pipeline")
        ports = self._by_name[ref.node].ports
        if ref.port not in ports:
            raise ConfigError(f"{what}, but '{ref.node}' has no output '{ref.port}' (its outputs: "
                              f"{', '.join(ports)})")

    def _sort(self) -> list[Node]:
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        order: list[Node] = []

        def visit(node: Node, path: list[str]) -> None:
            if state.get(node.name) == 2:
                return
            if state.get(node.name) == 1:
                cycle = path[path.index(node.name):] + [node.name]
                raise ConfigError(f"{self._where(node)}: cycle in pipeline: {' -> '.join(cycle)}")
            state[node.name] = 1
            for ref in node.inputs:
                if ref.node != INPUT_NODE:
                    visit(self._by_name[ref.node], [*path, node.name])
            state[node.name] = 2
            order.append(node)

        for node in self.nodes:
            visit(node, [])
        return order

    def origin(self, ref: StreamRef) -> str:
        """Where a stream's rows and their order come from: the input, or the nearest reshaping
        stage upstream (the sampler writes new rows in a new order)."""
        if ref.node == INPUT_NODE:
            return INPUT_NODE
        node = self._by_name[ref.node]
        if isinstance(node.stage, ReshapingStage):
            return node.name
        return self.origin(node.inputs[0])

    def _check_unions(self) -> None:
        for node in self._topo:
            if not node.is_union:
                continue
            origins = {ref: self.origin(ref) for ref in node.inputs}
            if len(set(origins.values())) > 1:
                desc = ", ".join(f"'{r}' from {'the input' if o == INPUT_NODE else f'stage {o!r}'}"
                                 for r, o in origins.items())
                raise ConfigError(f"{self._where(node)}: stage '{node.name}' unions outputs that do not come from "
                                  f"the same input rows ({desc}); a union merges branches of one input by position")

    def _warn_unread(self) -> None:
        read = {ref for n in self.nodes for ref in n.inputs} | set(self.sinks.values())
        for node in self.nodes:
            for port in node.ports:
                ref = StreamRef(node.name, port)
                if port != REJECTED and ref not in read:
                    self.warnings.append(f"{self._where(node)}: output '{ref}' is read by no stage and written to "
                                         "no sink: its rows are dropped from the result")

    def check(self) -> None:
        """Checks that need the file system (model files, plan files, sink tokenizers); called
        before any work."""
        for node in self.nodes:
            try:
                node.stage.check()
            except ConfigError as exc:
                raise ConfigError(f"{self._where(node)}: stage '{node.name}': {exc}") from None
        for spec in self.sink_specs.values():
            spec.check()

    def dependency_files(self) -> dict[str, list[str]]:
        """Files read besides the data, by who reads them (a node, or ``sink NAME``)."""
        files = {n.name: n.stage.dependency_files() for n in self.nodes}
        files.update({f"sink {name}": spec.dependency_files() for name, spec in self.sink_specs.items()})
        return files

    def check_columns(self, available: set[str]) -> None:
        """Every stage's required columns must come from the input (`available`) or a stage
        upstream of it (for a union: every branch); the error names the stage and, where one
        exists, the stage that makes the column."""
        have: dict[StreamRef, set[str] | None] = {StreamRef(INPUT_NODE): set(available)}
        removed_by: dict[str, str] = {}  # column -> the node that removed it (select)
        for node in self._topo:
            branches = [have[r] for r in node.inputs]
            cols = None if any(b is None for b in branches) else set.intersection(*branches)  # type: ignore[arg-type]
            if cols is not None:
                missing = [c for c in node.stage.required_columns() if c not in cols]
                if missing:
                    hint = (f"stage '{removed_by[missing[0]]}' removes it" if missing[0] in removed_by else
                            self._column_hint(node, missing[0], branches))
                    raise ConfigError(f"{self._where(node)}: stage '{node.name}' needs column '{missing[0]}', "
                                      f"which neither the input nor a stage before it provides ({hint})")
            out = node.stage.output_columns(cols) if cols is not None else None
            if out is not None and cols is not None:
                removed_by.update(dict.fromkeys(cols - out, node.name))
            for port in node.ports:
                have[StreamRef(node.name, port)] = (None if out is None else
                                                    out | {UPSTREAM_REJECT_REASON} if port == REJECTED else out)
        for name, spec in self.sink_specs.items():
            cols = have[self.outputs[name]]
            missing = [c for c in spec.required_columns() if cols is not None and c not in cols]
            if missing:
                raise ConfigError(f"{spec.where}: format '{spec.format}' needs column '{missing[0]}', which "
                                  f"'{self.outputs[name]}' does not have"
                                  + (f" (stage '{removed_by[missing[0]]}' removes it)" if missing[0] in removed_by
                                     else ""))

    def _column_hint(self, node: Node, col: str, branches: list[set[str] | None]) -> str:
        if node.is_union:
            lacking = [str(r) for r, b in zip(node.inputs, branches) if b is not None and col not in b]
            if len(lacking) < len(branches):
                return f"branch {', '.join(repr(x) for x in lacking)} of its union lacks it"
        upstream = set(self.ancestors(node.name))
        later = [n.name for n in self.nodes if n.name not in upstream and n is not node
                 and col in (n.stage.produced_columns() or ())]
        if later:
            where = "runs after" if self._by_name[later[0]].index > node.index else "is not upstream of"
            return f"stage '{later[0]}' makes it but {where} '{node.name}'"
        return _producer_hint(col)

    # ---- description ----------------------------------------------------------------------
    def describe(self) -> list[dict[str, Any]]:
        return [{"name": n.name, **n.stage.describe(), "input": [str(r) for r in n.inputs]} for n in self.nodes]

    def describe_outputs(self) -> dict[str, Any]:
        return {name: spec.describe() for name, spec in self.sink_specs.items()}


READ_NODE = "read"  # the runner's read step: reads the input, checks ids, rejects empty text


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
