"""Checks of a graph against what it will meet: the input's columns (each stage's required
columns made by the input or a stage upstream), the files stages and sinks read, and outputs
whose rows nothing reads. Run before any work, naming the node and, for YAML, the line."""

from __future__ import annotations

from curate.errors import ConfigError
from curate.pipeline.graph import INPUT_NODE, REJECTED, Graph, Node, StreamRef
from curate.schema import UPSTREAM_REJECT_REASON
from curate.store.storage import Storage


def check_columns(graph: Graph, available: set[str]) -> None:
    """Every stage's required columns must come from the input (`available`) or a stage
    upstream of it (for a union: every branch); the error names the stage and, where one
    exists, the stage that makes the column."""
    have: dict[StreamRef, set[str] | None] = {StreamRef(INPUT_NODE): set(available)}
    removed_by: dict[str, str] = {}  # column -> the node that removed it (select)
    for node in graph.topological():
        branches = [have[r] for r in node.inputs]
        cols = None if any(b is None for b in branches) else set.intersection(*branches)  # type: ignore[arg-type]
        if cols is not None:
            missing = [c for c in node.stage.required_columns() if c not in cols]
            if missing:
                hint = (f"stage '{removed_by[missing[0]]}' removes it" if missing[0] in removed_by else
                        _column_hint(graph, node, missing[0], branches))
                raise ConfigError(f"{graph.where(node)}: stage '{node.name}' needs column '{missing[0]}', "
                                  f"which neither the input nor a stage before it provides ({hint})")
        out = node.stage.output_columns(cols) if cols is not None else None
        if out is not None and cols is not None:
            removed_by.update(dict.fromkeys(cols - out, node.name))
        for port in node.ports:
            have[StreamRef(node.name, port)] = (None if out is None else
                                                out | {UPSTREAM_REJECT_REASON} if port == REJECTED else out)
    for name, spec in graph.sink_specs.items():
        cols = have[graph.outputs[name]]
        missing = [c for c in spec.required_columns() if cols is not None and c not in cols]
        if missing:
            raise ConfigError(f"{spec.where}: format '{spec.format}' needs column '{missing[0]}', which "
                              f"'{graph.outputs[name]}' does not have"
                              + (f" (stage '{removed_by[missing[0]]}' removes it)" if missing[0] in removed_by
                                 else ""))


def _column_hint(graph: Graph, node: Node, col: str, branches: list[set[str] | None]) -> str:
    if node.is_union:
        lacking = [str(r) for r, b in zip(node.inputs, branches) if b is not None and col not in b]
        if len(lacking) < len(branches):
            return f"branch {', '.join(repr(x) for x in lacking)} of its union lacks it"
    upstream = set(graph.ancestors(node.name))
    later = [n.name for n in graph.nodes if n.name not in upstream and n is not node
             and col in (n.stage.produced_columns() or ())]
    if later:
        where = "runs after" if graph.node(later[0]).index > node.index else "is not upstream of"
        return f"stage '{later[0]}' makes it but {where} '{node.name}'"
    return _producer_hint(col)


def _producer_hint(column: str) -> str:
    """Which registered stages make `column`, for an error message."""
    from curate.pipeline.registry import stage_classes

    makers = sorted(c.name for c in stage_classes() if c.can_make(column))
    if makers:
        return f"made by stage {' or '.join(repr(m) for m in makers)}; or declare it in input_columns"
    return "declare it in input_columns if the input has it"


def unread_outputs(graph: Graph) -> list[str]:
    """Outputs no stage reads and no sink writes: their rows leave the result (a warning)."""
    warnings = []
    read = {ref for n in graph.nodes for ref in n.inputs} | set(graph.sinks.values())
    for node in graph.nodes:
        for port in node.ports:
            ref = StreamRef(node.name, port)
            if port != REJECTED and ref not in read:
                warnings.append(f"{graph.where(node)}: output '{ref}' is read by no stage and written to "
                                     "no sink: its rows are dropped from the result")
    return warnings


def check_files(graph: Graph, storage: Storage) -> None:
    """Checks that need the file system (model files, plan files, sink tokenizers); called
    before any work."""
    for node in graph.nodes:
        try:
            node.stage.check(storage)
        except ConfigError as exc:
            raise ConfigError(f"{graph.where(node)}: stage '{node.name}': {exc}") from None
    for spec in graph.sink_specs.values():
        spec.check(storage)
