"""The run's graph as an SVG flow chart: the input, every node and every sink in rows by depth
(a node one row below the deepest node it reads), each box with its counts and a bar of the
share it kept, rejected and errored; the arrows are as thick as the documents they carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import humanize

from curate.run_report.svg import BAR, MUTED, REJECTED, compact, esc

BOX_W, BOX_H, GAP_X, GAP_Y = 210, 44, 36, 18
ERRORED = "#f58518"
SINK = "#2f9e44"
MAX_CHARS = 30  # characters of a name shown in a box


@dataclass
class _Box:
    key: str
    title: str
    detail: str
    kind: str  # "input", "node" or "sink"
    parents: list[tuple[str, str, int]] = field(default_factory=list)  # (box key, stream label, docs)
    shares: tuple[int, int, int] = (0, 0, 0)  # kept, rejected, errored
    rejected_note: str = ""
    depth: int = 0
    x: float = 0.0
    y: float = 0.0


def graph_chart(graph: list[dict[str, Any]], stages: list[dict[str, Any]], sinks: dict[str, dict[str, Any]]) -> str:
    """The flow chart of a run from its _curate/stats.json ``graph``, ``stages`` and ``sinks``."""
    by_name = {s["stage"]: s for s in stages}
    boxes = {"": _input_box(by_name.get("read"))}
    for node in graph:
        boxes[node["name"]] = _node_box(node, by_name.get(node["name"]), by_name)
    for name, sink in sinks.items():
        key = f"sink:{name}"
        src, label = _source(sink.get("from", ""))
        docs = int(sink.get("docs", 0))
        detail = f"{sink.get('format', 'parquet')} · {_n(docs)} docs · {humanize.naturalsize(sink.get('bytes', 0))}"
        boxes[key] = _Box(key, f"{name or 'OUTPUT'}/", detail, "sink", [(src, label, docs)])
    _place(boxes)
    width = max(b.x for b in boxes.values()) + BOX_W + 2
    height = max(b.y for b in boxes.values()) + BOX_H + 2
    peak = max((d for b in boxes.values() for _, _, d in b.parents), default=1) or 1
    body = [_edge(boxes[p], b, label, docs, peak) for b in boxes.values() for p, label, docs in b.parents
            if p in boxes]
    body += [_draw(b) for b in boxes.values()]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart graph" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="pipeline graph">' + "".join(body)
            + "</svg>")


def _source(stream: str) -> tuple[str, str]:
    """(node, stream label) of a stream name: "NAME" (its kept rows), "NAME.rejected", "NAME.out"."""
    node, _, output = stream.partition(".")
    return node, output


def _input_box(read: dict[str, Any] | None) -> _Box:
    read = read or {}
    docs = int(read.get("docs_in", 0))
    box = _Box("", "input", f"{_n(docs)} docs · {humanize.naturalsize(read.get('bytes_in', 0))}", "input")
    _counts(box, read)
    return box


def _node_box(node: dict[str, Any], stats: dict[str, Any] | None, by_name: dict[str, dict[str, Any]]) -> _Box:
    title = node["name"] if node["stage"] == node["name"] else f"{node['name']} · {node['stage']}"
    stats = stats or {}
    detail = f"{_n(stats.get('docs_in', 0))} in → {_n(stats.get('docs_out', 0))} out" if stats else "not run"
    box = _Box(node["name"], title, detail, "node")
    for stream in node.get("inputs") or [""]:
        src, label = _source(stream)
        box.parents.append((src, label, _stream_docs(by_name.get(src or "read"), label)))
    _counts(box, stats)
    return box


def _stream_docs(stats: dict[str, Any] | None, label: str) -> int:
    """How many rows a stream carries: a node's kept rows, its rejected rows or one named output's."""
    if not stats:
        return 0
    if label == "rejected":
        return int(stats.get("rejected_total", 0))
    if label:
        return int((stats.get("outputs") or {}).get(label, 0))
    return int(stats.get("docs_out", 0))


def _counts(box: _Box, stats: dict[str, Any]) -> None:
    kept, rejected, errored = (int(stats.get(k, 0)) for k in ("docs_out", "rejected_total", "errored"))
    box.shares = (kept, rejected, errored)
    notes = [f"−{_n(rejected)} rejected"] if rejected else []
    notes += [f"{_n(errored)} errored"] if errored else []
    box.rejected_note = " · ".join(notes)


def _n(count: int) -> str:
    """A count as a box shows it: exact below 100,000, else compact (1.2M)."""
    return f"{count:,}" if count < 100_000 else compact(count)


def _place(boxes: dict[str, _Box]) -> None:
    """Nodes in rows by depth, centred, each row ordered by the mean position of what its boxes
    read; a sink to the right of its row's nodes, beside the node it writes."""
    for box in boxes.values():  # graph order is topological; sinks come after their nodes
        step = 0 if box.kind == "sink" else 1
        box.depth = max((boxes[p].depth + step for p, _, _ in box.parents if p in boxes), default=0)
    rows: dict[int, list[_Box]] = {}
    for box in boxes.values():
        rows.setdefault(box.depth, []).append(box)
    widest = max(sum(b.kind != "sink" for b in r) for r in rows.values())
    total = widest * BOX_W + (widest - 1) * GAP_X
    order: dict[str, float] = {}
    for depth in sorted(rows):
        row = sorted(rows[depth], key=lambda b: (b.kind == "sink", _mean([order[p] for p, _, _ in b.parents
                                                                          if p in order])))
        nodes = sum(b.kind != "sink" for b in row)
        x = 1 + (total - (nodes * BOX_W + (nodes - 1) * GAP_X)) / 2
        for box in row:
            box.x, box.y = x, 1 + depth * (BOX_H + GAP_Y)
            order[box.key] = box.x
            x += BOX_W + GAP_X


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _edge(src: _Box, dst: _Box, label: str, docs: int, peak: int) -> str:
    """An arrow from `src` down to `dst`, or across to a sink in the same row."""
    colour = REJECTED if label == "rejected" else SINK if dst.kind == "sink" else MUTED
    width = 1.2 + 6 * docs / peak
    if dst.y == src.y:
        x0, x1, y = src.x + BOX_W, dst.x, src.y + BOX_H / 2
        d = f"M{x0:.1f},{y:.1f} L{x1 - 3:.1f},{y:.1f}"
        at = ((x0 + x1) / 2, y - 6)
    else:
        x0, y0 = src.x + BOX_W / 2, src.y + BOX_H
        x1, y1 = dst.x + BOX_W / 2, dst.y
        mid = (y0 + y1) / 2
        d = f"M{x0:.1f},{y0:.1f} C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1 - 3:.1f}"
        at = ((x0 + x1) / 2 + 6, mid + 4)
    path = (f'<path d="{d}" fill="none" stroke="{colour}" stroke-opacity="0.45" stroke-width="{width:.1f}">'
            f"<title>{esc(f'{docs:,} documents')}</title></path>")
    if not label:
        return path
    return path + f'<text x="{at[0]:.1f}" y="{at[1]:.1f}" class="muted">{esc(label)} ({docs:,})</text>'


def _draw(box: _Box) -> str:
    stroke = SINK if box.kind == "sink" else "#9aa5b1"
    fill = "#f1faf3" if box.kind == "sink" else "#ffffff" if box.kind == "node" else "#f4f6f8"
    room = MAX_CHARS - len(box.rejected_note) - 2 if box.rejected_note else MAX_CHARS
    title = box.title if len(box.title) <= room else box.title[: room - 1] + "…"
    parts = [f'<g class="box {box.kind}"><title>{esc(box.title)}</title>',
             f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
             f'stroke="{stroke}"/>',
             f'<text x="{box.x + 10:.1f}" y="{box.y + 16:.1f}" font-weight="600">{esc(title)}</text>',
             f'<text x="{box.x + 10:.1f}" y="{box.y + 30:.1f}" class="muted">{esc(box.detail)}</text>']
    if box.rejected_note:
        parts.append(f'<text x="{box.x + BOX_W - 10:.1f}" y="{box.y + 16:.1f}" text-anchor="end" '
                     f'fill="{REJECTED}">{esc(box.rejected_note)}</text>')
    total = sum(box.shares)
    if box.kind != "sink" and total:
        x = box.x + 10
        for share, colour in zip(box.shares, (BAR, REJECTED, ERRORED)):
            w = (BOX_W - 20) * share / total
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{box.y + BOX_H - 8:.1f}" width="{w:.1f}" height="3" '
                             f'fill="{colour}"/>')
            x += w
    parts.append("</g>")
    return "".join(parts)
