"""How a graph runs: units of work fused from its nodes, and the passes they run in.

A *unit* is what one task does in one go: it reads an *entry* stream batch by batch (the input
files; earlier streams kept under ``_curate/work/``, merged by row position when it is a union; a global
stage's apply over its kept input; or a reshaping stage's output), runs a chain of map stages on
each batch, and sends every stream the unit makes to its destinations: sinks, ``_curate/rejected/``, a
global stage's summarize, and ``_curate/work/streams/`` when a later unit reads it.

A map stage joins the unit that makes its input when that input is the unit's current stream
(the kept rows of the stage before it, read by nothing else first); otherwise (a union, a
``.rejected`` or named output, the second reader of a fan-out) it starts a unit of its own that
reads the stream back from ``_curate/work/``. A global stage's summarize runs in the unit that makes its
input; its combine runs once that unit's pass is done; its apply starts a unit in the next pass.
Units are grouped into passes by dependency: a unit runs in the pass after every unit whose
output it reads back (and after the combine it applies). A linear pipeline gives one unit per
global stage plus one, exactly the passes of a list.

Before them all, the built-in global node ``_ids`` (curate.pipeline.id_check) runs its own unit
in the first pass: it reads only the ids of every task, and its combine finds the duplicate ids
that the read unit, in the second pass, reports as errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.pipeline.graph import INPUT_NODE, KEPT, READ_NODE, Graph, StreamRef
from curate.pipeline.id_check import ID_NODE
from curate.pipeline.stage import ReshapingStage

IDS, READ, STREAMS, APPLY, RESHAPE = "ids", "read", "streams", "apply", "reshape"
UNION_PORT = "@input"  # the merged input of a global stage that reads a union
ID_PORT = "@ids"  # the input's ids, as the id check's summarize reads them


@dataclass(frozen=True)
class Entry:
    kind: str  # IDS, READ, STREAMS, APPLY or RESHAPE
    streams: tuple[StreamRef, ...] = ()  # STREAMS: read back and merged by position when several
    node: str | None = None  # APPLY, RESHAPE: the global node; STREAMS: the global node whose union input it merges


@dataclass
class Unit:
    name: str
    entry: Entry
    chain: list[str]  # map nodes run on every batch after the entry, in order
    level: int  # the pass it runs in

    @property
    def nodes(self) -> list[str]:
        """The nodes whose stats this unit reports (a global's summarize is reported apart)."""
        head = ([self.entry.node] if self.entry.kind in (APPLY, RESHAPE) else
                [READ_NODE] if self.entry.kind == READ else [])
        return head + self.chain


@dataclass
class Schedule:
    units: list[Unit]
    materialized: set[StreamRef]  # streams a later unit reads back from _curate/work/
    global_input: dict[str, StreamRef]  # global node -> the stream its summarize and apply read
    summarize_unit: dict[str, str]  # global node -> the unit that runs its summarize
    rereads_input: bool = False  # a global reading the run's input reads the input files again
    passes: int = field(init=False)

    def __post_init__(self) -> None:
        self.passes = 1 + max(u.level for u in self.units)
        self._by_name = {u.name: u for u in self.units}

    def unit(self, name: str) -> Unit:
        return self._by_name[name]

    def in_pass(self, level: int) -> list[Unit]:
        return [u for u in self.units if u.level == level]

    def combines_after(self, level: int) -> list[str]:
        """Global nodes whose combine runs once pass `level` is done, in unit order."""
        return [g for g, u in self.summarize_unit.items() if self._by_name[u].level == level]

    def summarizers(self, ref: StreamRef) -> list[str]:
        """Global nodes whose summarize reads stream `ref`."""
        return [g for g, r in self.global_input.items() if r == ref]


def schedule(graph: Graph, rereads_input: bool = False) -> Schedule:
    """Fuse `graph`'s nodes into units and assign each unit its pass (see the module docstring).

    With `rereads_input`, a global stage whose input is the run's input reads the input files
    again in its apply pass (curate.pipeline.input_rows), so that stream is kept under ``_curate/work/``
    only if a unit other than a global's apply reads it back."""
    ids = Unit(ID_NODE, Entry(IDS), [], 0)
    read = Unit(READ_NODE, Entry(READ), [], 1)
    units = [ids, read]
    current: dict[str, StreamRef | None] = {read.name: StreamRef(INPUT_NODE)}  # unit -> stream it ends in
    producer: dict[StreamRef, Unit] = {StreamRef(INPUT_NODE): read}
    materialized: set[StreamRef] = set()
    global_input: dict[str, StreamRef] = {ID_NODE: StreamRef(INPUT_NODE, ID_PORT)}
    summarize_unit: dict[str, str] = {ID_NODE: ids.name}

    def reader_unit(name: str, streams: tuple[StreamRef, ...], chain: list[str], merges_for: str | None = None) -> Unit:
        materialized.update(streams)
        unit = Unit(name, Entry(STREAMS, streams, merges_for), chain, 1 + max(producer[r].level for r in streams))
        units.append(unit)
        return unit

    def made_by(unit: Unit, node_name: str) -> None:
        for port in graph.node(node_name).ports:
            producer[StreamRef(node_name, port)] = unit
        current[unit.name] = StreamRef(node_name) if KEPT in graph.node(node_name).ports else None

    for node in graph.topological():
        if node.is_global:
            if node.is_union:
                source = StreamRef(node.name, UNION_PORT)
                merge = reader_unit(f"{node.name}.input", tuple(node.inputs), [], merges_for=node.name)
                producer[source], current[merge.name] = merge, source
            else:
                source = node.inputs[0]
            if not (rereads_input and source == StreamRef(INPUT_NODE)):
                materialized.add(source)
            global_input[node.name] = source
            summarize_unit[node.name] = producer[source].name
            kind = RESHAPE if isinstance(node.stage, ReshapingStage) else APPLY
            apply = Unit(node.name, Entry(kind, node=node.name), [], producer[source].level + 1)
            units.append(apply)
            made_by(apply, node.name)
            continue
        ref = node.inputs[0]
        host = producer.get(ref) if not node.is_union else None
        if host is not None and current.get(host.name) == ref:
            host.chain.append(node.name)
            made_by(host, node.name)
        else:
            made_by(reader_unit(node.name, tuple(node.inputs), [node.name]), node.name)
    return Schedule(units, materialized, global_input, summarize_unit, rereads_input)
