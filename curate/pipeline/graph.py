"""Pipeline graphs: named stage nodes, the streams between them, and named sinks.

A node runs one stage on one input stream: the kept rows of another node (``input: NAME``, by
default the node before it), its rejected rows (``NAME.rejected``, arriving kept with their
reason in ``upstream_reject_reason``), one of its named outputs (``NAME.code``, a route's), or a
union of several of these from the same input (``input: [a, b.rejected]``, merged in input
order). Several nodes may read one stream. Top-level ``outputs:`` names the sinks written under
OUTPUT. A :class:`Graph` checks its structure as it is made (unknown node or output, a cycle, a
union of different inputs, what a stage needs upstream); parsing YAML and stage specs is
:mod:`curate.pipeline.spec`, checks against columns and files :mod:`curate.pipeline.validate`,
how a graph runs :mod:`curate.pipeline.passes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curate.errors import ConfigError
from curate.pipeline.stage import GlobalStage, MapStage, ReshapingStage, Stage
from curate.sinks import SinkSpec
from curate.store.layout import DEFAULT_SINK
from curate.store.storage import Storage

KEPT, REJECTED = "kept", "rejected"
INPUT_NODE = ""  # the pipeline's input, as the producer of a stream
READ_NODE = "read"  # the runner's read step: reads the input, checks ids, rejects empty text


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
    # sink name -> the stream it writes; empty: the last node's kept rows go to the sink OUTPUT/data/
    outputs: dict[str, StreamRef] = field(default_factory=dict)
    output_lines: dict[str, int | None] = field(default_factory=dict)
    sink_specs: dict[str, SinkSpec] = field(default_factory=dict)  # sink name -> its format and options

    def __post_init__(self) -> None:
        self._validate()


    # ---- lookups --------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return self._by_name[name]

    def sink_spec(self, name: str) -> SinkSpec:
        """How sink `name` is written (the default sink: Parquet)."""
        return self.sink_specs.get(name) or SinkSpec.from_config(name, self.sinks[name].node)

    def sinks_of(self, ref: StreamRef) -> list[str]:
        return [name for name, r in self.sinks.items() if r == ref]

    @property
    def sinks(self) -> dict[str, StreamRef]:
        """Sink name -> stream; without ``outputs:`` the one default sink (``data``, see
        curate.store.layout) is the last node's kept rows."""
        return self.outputs or {DEFAULT_SINK: StreamRef(self.nodes[-1].name)}

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

    # ---- structure ----------------------------------------------------------------------
    def where(self, node: Node) -> str:
        return where_in(self.source, node.line, node.index)

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
                self._check_ref(ref, f"{self.where(node)}: stage '{node.name}' reads input '{ref}'")
            if len(set(node.inputs)) != len(node.inputs):
                raise ConfigError(f"{self.where(node)}: stage '{node.name}' lists one input twice in its union")
        self._topo = self._sort()
        self._check_unions()
        for node in self.nodes:
            try:
                node.stage.check_upstream([self._by_name[a].stage for a in self.ancestors(node.name)])
            except ConfigError as exc:
                raise ConfigError(f"{self.where(node)}: {exc}") from None
        for sink, ref in self.outputs.items():
            line = self.output_lines.get(sink)
            where = f"{self.source or 'pipeline'}" + (f", line {line}" if line else "")
            self._check_ref(ref, f"{where}: output '{sink}' writes '{ref}'")

    def check_complete(self) -> None:
        """What a graph being built may lack but a run needs: something to write. Without
        ``outputs:`` the last stage's kept rows are the output, so it must have kept rows."""
        if not self.outputs and KEPT not in self.nodes[-1].ports:
            last = self.nodes[-1]
            raise ConfigError(f"{self.where(last)}: the last stage '{last.name}' has named outputs "
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
                raise ConfigError(f"{self.where(node)}: cycle in pipeline: {' -> '.join(cycle)}")
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
                raise ConfigError(f"{self.where(node)}: stage '{node.name}' unions outputs that do not come from "
                                  f"the same input rows ({desc}); a union merges branches of one input by position")

    def dependency_files(self, storage: Storage) -> dict[str, list[str]]:
        """Files read besides the data, by who reads them (a node, or ``sink NAME``)."""
        files = {n.name: n.stage.dependency_files(storage) for n in self.nodes}
        files.update({f"sink {name}": spec.dependency_files() for name, spec in self.sink_specs.items()})
        return files

    # ---- description ----------------------------------------------------------------------
    def describe(self) -> list[dict[str, Any]]:
        return [{"name": n.name, **n.stage.describe(), "input": [str(r) for r in n.inputs]} for n in self.nodes]

    def describe_outputs(self) -> dict[str, Any]:
        return {name: spec.describe() for name, spec in self.sink_specs.items()}


def where_in(source: str | None, line: int | None, i: int) -> str:
    """Where a node is, for messages: the file, its line and its place in the stage list."""
    parts = [source or "pipeline"]
    if line is not None:
        parts.append(f"line {line}")
    parts.append(f"stage #{i + 1}")
    return ", ".join(parts)
