"""Per-stage accounting: docs and bytes in/out, rejected by reason, errored, seconds.

Every task returns one :class:`StageStats` per stage it ran; they are merged over tasks into
``_curate/stats.json``. The invariant docs_in = docs_out + rejected + errored is checked per stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import AccountingError


@dataclass
class StageStats:
    stage: str
    kind: str = "map"
    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    errored: int = 0
    seconds: float = 0.0
    counters: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)  # kept rows per named output (a route's)
    examples: dict[str, str] = field(default_factory=dict)  # reject reason -> the id of its first row


    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def add_rejected(self, reason: str, n: int, example: str | None = None) -> None:
        """Count `n` rows rejected for `reason`; `example` (a row's id) is kept for the reason's
        first rows only, so the merged stats name the first task's first such row."""
        if n:
            self.rejected[reason] = self.rejected.get(reason, 0) + n
            if example is not None:
                self.examples.setdefault(reason, example)

    def merge(self, other: StageStats) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.errored += other.errored
        self.seconds += other.seconds
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        for k, v in other.counters.items():
            self.counters[k] = self.counters.get(k, 0) + v
        for k, n in other.outputs.items():
            self.outputs[k] = self.outputs.get(k, 0) + n
        for reason, example in other.examples.items():
            self.examples.setdefault(reason, example)
        self.summary.update(other.summary)

    def check(self) -> None:
        """Raise AccountingError unless docs_in = docs_out + rejected + errored, and the named
        outputs (if any) add up to the kept rows."""
        if self.docs_in != self.docs_out + self.rejected_total + self.errored:
            raise AccountingError(
                f"stage '{self.stage}': docs in {self.docs_in} != kept {self.docs_out} + rejected "
                f"{self.rejected_total} + errored {self.errored}"
            )
        if self.outputs and sum(self.outputs.values()) != self.docs_out:
            raise AccountingError(f"stage '{self.stage}': its outputs {self.outputs} do not add up to the "
                                  f"{self.docs_out} rows it kept")

    def to_dict(self) -> dict[str, Any]:
        d = {
            "stage": self.stage, "kind": self.kind, "docs_in": self.docs_in, "docs_out": self.docs_out,
            "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "rejected": dict(sorted(self.rejected.items())), "rejected_total": self.rejected_total,
            "errored": self.errored, "seconds": round(self.seconds, 4),
        }
        if self.counters:
            d["counters"] = dict(sorted(self.counters.items()))
        if self.summary:
            d["summary"] = self.summary
        if self.outputs:
            d["outputs"] = dict(self.outputs)
        if self.examples:
            d["examples"] = dict(sorted(self.examples.items()))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        return cls(stage=d["stage"], kind=d.get("kind", "map"), docs_in=d["docs_in"], docs_out=d["docs_out"],
                   bytes_in=d["bytes_in"], bytes_out=d["bytes_out"], rejected=dict(d["rejected"]),
                   errored=d["errored"], seconds=d["seconds"], counters=dict(d.get("counters", {})),
                   summary=dict(d.get("summary", {})), outputs=dict(d.get("outputs", {})),
                   examples=dict(d.get("examples", {})))


def first_ids(rejected: pa.Table, reasons: list[str]) -> dict[str, str]:
    """The id of the first row of `rejected` with each of `reasons` (its reject reason), for the
    example a removal warning names; none when the rows have no id column."""
    if schema.ID not in rejected.column_names:
        return {}
    found: dict[str, str] = {}
    column = rejected.column(schema.REJECT_REASON)
    for reason in reasons:
        index = pc.index(column, reason).as_py()
        value = rejected.column(schema.ID)[index].as_py() if index >= 0 else None
        if value is not None:
            found[reason] = str(value)
    return found


def merge_stats(per_task: list[list[StageStats]], order: list[str]) -> list[StageStats]:
    """Merge per-task stats into one entry per stage, in pipeline order."""
    merged: dict[str, StageStats] = {}
    for task_stats in per_task:
        for s in task_stats:
            if s.stage not in merged:
                merged[s.stage] = StageStats(stage=s.stage, kind=s.kind)
            merged[s.stage].merge(s)
    return [merged[name] for name in order if name in merged]


def format_tree(graph: list[dict[str, Any]], stages: list[dict[str, Any]]) -> str:
    """The graph as an indented tree: every node under the node whose output it reads (a union
    under its first input, naming the others), with its counts and, for a route, each output's."""
    by_stage = {s["stage"]: s for s in stages}
    children: dict[str, list[dict[str, Any]]] = {}
    for node in graph:
        first = node["inputs"][0].split(".")[0] if node["inputs"] else ""
        children.setdefault(first, []).append(node)
    lines: list[str] = []

    def counts(name: str) -> str:
        s = by_stage.get(name)
        if s is None:
            return "not run"
        text = f"{s['docs_in']:,} -> {s['docs_out']:,} / {s['rejected_total']:,} / {s['errored']:,}"
        if s.get("outputs"):
            text += "  (" + ", ".join(f"{k} {v:,}" for k, v in s["outputs"].items()) + ")"
        return text

    def walk(parent: str, depth: int) -> None:
        for node in children.get(parent, []):
            reads = node["inputs"][0] if node["inputs"] else ""
            via = f"[{reads.split('.', 1)[1]}] " if "." in reads else ""
            union = f" (union with {', '.join(node['inputs'][1:])})" if len(node["inputs"]) > 1 else ""
            label = f"{'  ' * depth}{via}{node['name']}{union}"
            lines.append(f"{label:<48} {counts(node['name'])}")
            walk(node["name"], depth + 1)

    lines.append(f"{'read':<48} {counts('read')}")
    walk("", 1)
    return "\n".join(lines)


def format_table(stages: list[dict[str, Any]]) -> str:
    """A readable table of `_curate/stats.json` stage entries."""
    header = ("stage", "docs in", "kept", "rejected", "errored", "MB in", "MB out", "seconds")
    rows = [header]
    for s in stages:
        rows.append((s["stage"], f"{s['docs_in']:,}", f"{s['docs_out']:,}", f"{s['rejected_total']:,}",
                     f"{s['errored']:,}", f"{s['bytes_in'] / 1e6:,.2f}", f"{s['bytes_out'] / 1e6:,.2f}",
                     f"{s['seconds']:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    reasons = [(s["stage"], reason, n) for s in stages for reason, n in s["rejected"].items()]
    if reasons:
        lines.append("")
        lines.append("rejected by reason:")
        for stage, reason, n in reasons:
            lines.append(f"  {stage:<20} {reason:<40} {n:>10,}")
    return "\n".join(lines)


def format_heavy_removals(removals: list[dict[str, Any]]) -> list[str]:
    """One warning line per entry of ``_curate/stats.json``'s ``heavy_removals``: which stage threw most
    of its input away, why (its top reason), and a document to look at."""
    lines = []
    for r in removals:
        example = f", e.g. id {r['example_id']}" if r.get("example_id") is not None else ""
        lines.append(f"warning: stage '{r['stage']}' removed {r['share']:.1%} of the documents that reached it "
                     f"({r['removed']:,} of {r['docs_in']:,}); top reason {r['top_reason']}: "
                     f"{r['top_reason_removed']:,} ({r['top_reason_share']:.1%}){example}")
    if lines:
        lines.append("  (--keep-rejected keeps the removed documents under _curate/rejected/<stage>/; docs/heuristics.md "
                     "\"Which pipeline for which data\" says why web-text rules remove most code and documentation)")
    return lines
