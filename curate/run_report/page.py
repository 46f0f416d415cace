"""The report page: one self-contained HTML document (inline CSS and SVG, no script, nothing
fetched), its sections in reading order: summary, pipeline, removed by reason, quality signals,
duplicates, plan, examples. Every table cell holding a number carries it unformatted in
``data-value``, so that a program reading the page back gets exact values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import humanize

from curate import schema
from curate.run_report.graph_svg import graph_chart
from curate.run_report.histogram import SERIES, Constant, Histogram
from curate.run_report.scan import ReasonTotal, Scan
from curate.run_report.svg import (
    BAR,
    BUCKET_CUT,
    COLOURS,
    CUT,
    BarRow,
    bars,
    columns,
    esc,
    histogram_chart,
)

CHART_REASONS = 12  # reasons drawn one bar each; the others share one bar (the table lists them all)

CSS = """
:root { --ink: #1f2933; --muted: #6b7480; --line: #e3e7ec; --bg: #f6f7f9; --accent: #4c78a8; --bad: #e45756; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 28px 32px 48px; }
header h1 { font-size: 24px; margin: 0 0 4px; font-weight: 650; letter-spacing: -0.01em; }
header h1 span { color: var(--accent); }
.sub { color: var(--muted); margin: 0 0 18px; word-break: break-all; }
nav { display: flex; gap: 16px; flex-wrap: wrap; margin: 0 0 22px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 22px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.card .value { font-size: 22px; font-weight: 650; margin-top: 2px; }
.card .note { color: var(--muted); font-size: 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 20px 24px;
          margin-bottom: 22px; }
section h2 { font-size: 17px; margin: 0 0 4px; font-weight: 650; }
section h3 { font-size: 14px; margin: 18px 0 6px; font-weight: 650; }
.lead { color: var(--muted); margin: 0 0 14px; max-width: 900px; }
.split { display: flex; gap: 28px; align-items: flex-start; flex-wrap: wrap; }
.split > div { min-width: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; border-bottom: 1px solid #cfd6de; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: none; }
td .pct { color: var(--muted); font-size: 12px; }
.chart { display: block; font-size: 11px; fill: var(--ink); overflow: visible; }
.chart .muted { fill: var(--muted); }
.graph text { font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px 26px; }
figure { margin: 0; padding: 10px 0 4px; border-top: 1px solid var(--line); }
figcaption { font-weight: 600; font-size: 13px; margin-bottom: 2px; }
figure .note { color: var(--muted); font-size: 12px; margin: 2px 0 0; }
.legend { display: flex; gap: 18px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin: 0 0 10px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
            vertical-align: -2px; }
.legend i.line { height: 0; border-top: 2px dashed; border-radius: 0; width: 16px; vertical-align: 3px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 4px 22px;
         margin: 6px 0 12px; font-size: 13px; }
.facts div { display: flex; justify-content: space-between; border-bottom: 1px dotted var(--line); padding: 2px 0; }
.facts span { color: var(--muted); }
.warn { color: #9a5b00; background: #fff8e6; border: 1px solid #f4e2b8; border-radius: 6px; padding: 6px 10px;
        font-size: 13px; margin: 6px 0; }
details { border-top: 1px solid var(--line); padding: 6px 0; }
details summary { cursor: pointer; font-weight: 600; }
details summary .muted { color: var(--muted); font-weight: 400; }
.example { margin: 8px 0 12px 18px; }
.example .meta { color: var(--muted); font-size: 12px; margin-bottom: 3px; }
.example pre { margin: 0; white-space: pre-wrap; word-break: break-word; background: var(--bg);
               border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; max-height: 220px;
               overflow: auto; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
"""


@dataclass
class Page:
    """Everything the page shows, read and computed by curate.run_report.build."""

    output: str
    stats: dict[str, Any]
    finished: datetime | None
    scan: Scan
    histograms: list[Histogram]
    constants: list[Constant]  # signals with one value for every document
    plans: list[tuple[str, dict[str, Any]]]  # (node, plan.json)
    buckets: list[tuple[str, dict[str, Any]]]  # (node, buckets.json)
    has_manifest: bool


def render(page: Page) -> str:
    """The HTML document of `page`."""
    stats = page.stats
    name = stats.get("pipeline") or "pipeline"
    sections = [_pipeline(page), _removed(page), _signals(page), _duplicates(page), _plan(page), _examples(page)]
    nav = "".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title in (
        ("pipeline", "Pipeline"), ("removed", "Removed"), ("signals", "Quality signals"),
        ("duplicates", "Duplicates"), ("plan", "Plan"), ("examples", "Examples")))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>curate report: {esc(name)}</title><style>{CSS}</style></head><body><main>"
            f'<header><h1>curate report: <span>{esc(name)}</span></h1><p class="sub">{_subtitle(page)}</p></header>'
            f"{_cards(page)}<nav>{nav}</nav>" + "".join(sections)
            + f"<footer>Written by curate {esc(stats.get('version', ''))} from {esc(page.output)}</footer>"
            "</main></body></html>\n")


# ---- helpers ----------------------------------------------------------------------------
def _num(value: float | int | None, text: str | None = None) -> str:
    """A numeric table cell: the value formatted, and exact in data-value."""
    if value is None:
        return '<td class="num" data-value="">—</td>'
    shown = text if text is not None else f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
    return f'<td class="num" data-value="{value}">{esc(shown)}</td>'


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _table(table_id: str, head: list[tuple[str, bool]], rows: list[str]) -> str:
    cells = "".join(f'<th class="num">{esc(h)}</th>' if numeric else f"<th>{esc(h)}</th>" for h, numeric in head)
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _facts(pairs: list[tuple[str, str]]) -> str:
    return '<div class="facts">' + "".join(f"<div><span>{esc(k)}</span><b>{esc(v)}</b></div>" for k, v in pairs) + "</div>"


def _section(sid: str, title: str, lead: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{esc(title)}</h2><p class="lead">{lead}</p>{body}</section>'


def _size(n: int | None) -> str:
    return "—" if n is None else humanize.naturalsize(n)


def _removed_total(totals: list[ReasonTotal], attr: str) -> int | None:
    values = [getattr(t, attr) for t in totals]
    return None if any(v is None for v in values) else sum(values)


# ---- header -----------------------------------------------------------------------------
def _subtitle(page: Page) -> str:
    stats = page.stats
    bits = [esc(page.output)]
    if page.finished is not None:
        bits.append(f"finished {page.finished.strftime('%Y-%m-%d %H:%M')} UTC")
    bits.append(f"{stats.get('tasks', 0):,} tasks")
    bits.append(f"{float(stats.get('wall_seconds', 0)):,.1f} s")
    bits.append(f"seed {stats.get('seed', 0)}")
    return " · ".join(bits)


def _cards(page: Page) -> str:
    stats, totals = page.stats, page.scan.totals
    docs_in = int(stats.get("docs_in", 0))
    read = next((s for s in stats.get("stages") or [] if s["stage"] == "read"), {})
    bytes_in = int(read.get("bytes_in", 0))
    removed = sum(t.docs for t in totals)
    removed_bytes, removed_tokens = _removed_total(totals, "bytes"), _removed_total(totals, "tokens")
    cards = [("Documents in", f"{docs_in:,}", humanize.naturalsize(bytes_in)),
             ("Removed", f"{removed:,}", f"{_pct(removed, docs_in)} of documents"),
             ("Bytes removed", _size(removed_bytes),
              f"{_pct(removed_bytes, bytes_in)} of input bytes" if removed_bytes is not None else "needs --keep-rejected"),
             ("Tokens removed", "—" if removed_tokens is None else f"{removed_tokens:,}",
              "n_tokens of rejected rows" if removed_tokens is not None else "needs n_tokens and --keep-rejected"),
             ("Errors", f"{int(stats.get('errors', 0)):,}", "rows that failed"),
             ("Sinks", f"{len(stats.get('sinks') or {})}",
              " · ".join(f"{n or 'OUTPUT'}: {int(s.get('docs', 0)):,}" for n, s in (stats.get("sinks") or {}).items()))]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{esc(k)}</div><div class="value">{esc(v)}</div>'
        f'<div class="note">{esc(n)}</div></div>' for k, v, n in cards) + "</div>"


# ---- pipeline ---------------------------------------------------------------------------
def _pipeline(page: Page) -> str:
    stats = page.stats
    stages = stats.get("stages") or []
    rows = []
    for s in stages:
        rows.append(f'<tr><td>{esc(s["stage"])}</td>'
                    + _num(int(s["docs_in"])) + _num(int(s["docs_out"])) + _num(int(s["rejected_total"]))
                    + _num(int(s["errored"])) + _num(int(s["bytes_in"]), humanize.naturalsize(s["bytes_in"]))
                    + _num(int(s["bytes_out"]), humanize.naturalsize(s["bytes_out"]))
                    + _num(float(s["seconds"]), f"{float(s['seconds']):,.2f}") + "</tr>")
    table = _table("stages-table", [("node", False), ("docs in", True), ("kept", True),
                                    ("rejected", True), ("errored", True), ("bytes in", True), ("bytes out", True),
                                    ("seconds", True)], rows)
    sinks = [f'<tr><td>{esc(n or "OUTPUT")}/</td><td>{esc(s.get("from", ""))}</td><td>{esc(s.get("format", "parquet"))}'
             f"</td>" + _num(int(s.get("docs", 0))) + _num(int(s.get("bytes", 0)), humanize.naturalsize(s.get("bytes", 0)))
             + _num(int(s.get("shards", 0))) + _num(s.get("tokens")) + "</tr>"
             for n, s in (stats.get("sinks") or {}).items()]
    sink_table = _table("sinks-table", [("sink", False), ("from", False), ("format", False), ("docs", True),
                                        ("bytes", True), ("shards", True), ("tokens", True)], sinks)
    graph = graph_chart(stats.get("graph") or [], stages, stats.get("sinks") or {})
    body = (f'<div class="split"><div class="scroll">{graph}</div><div><h3>Nodes</h3>{table}'
            f"<h3>Sinks</h3>{sink_table}</div></div>")
    lead = ("Each box is a node with the documents it read and kept; the bar under its counts is the share it "
            "kept (blue), rejected (red) and errored (orange). Arrows are as thick as the documents they carry.")
    return _section("pipeline", "Pipeline", lead, body)


# ---- removed by reason ------------------------------------------------------------------
def ranked(totals: list[ReasonTotal]) -> list[ReasonTotal]:
    """Reasons by what they removed: bytes where known, then documents."""
    return sorted(totals, key=lambda t: (-(t.bytes if t.bytes is not None else -1), -t.docs, t.node, t.reason))


def _reason_bar(label: str, docs: int, size: int | None, by_bytes: bool) -> BarRow:
    note = f"{_size(size)} · {docs:,} docs" if by_bytes else f"{docs:,} docs"
    return BarRow(label, float(size or 0) if by_bytes else float(docs), note, f"{label}: {note}")


def _removed(page: Page) -> str:
    totals = ranked(page.scan.totals)
    if not totals:
        return _section("removed", "Removed, by reason", "Nothing was rejected.", "")
    docs_in = int(page.stats.get("docs_in", 0))
    read = next((s for s in page.stats.get("stages") or [] if s["stage"] == "read"), {})
    bytes_in = int(read.get("bytes_in", 0))
    by_bytes = all(t.bytes is not None for t in totals)
    chart_rows = [_reason_bar(f"{t.reason} ({t.node})", t.docs, t.bytes, by_bytes) for t in totals[:CHART_REASONS]]
    rest = totals[CHART_REASONS:]
    if rest:
        chart_rows.append(_reason_bar(f"{len(rest)} other reasons", sum(t.docs for t in rest),
                                      _removed_total(rest, "bytes"), by_bytes))
    rows = []
    for i, t in enumerate(totals):
        link = f'<a href="#ex-{i}">{len(t.examples)}</a>' if t.examples else "—"
        rows.append(f"<tr><td>{esc(t.node)}</td><td>{esc(t.reason)}</td>" + _num(t.docs)
                    + f'<td class="num">{_pct(t.docs, docs_in)}</td>' + _num(t.bytes, _size(t.bytes))
                    + f'<td class="num">{_pct(t.bytes, bytes_in) if t.bytes is not None else "—"}</td>'
                    + _num(t.tokens) + f'<td class="num">{link}</td></tr>')
    table = _table("reasons-table", [("node", False), ("reason", False), ("documents", True), ("% of docs in", True),
                                     ("bytes", True), ("% of bytes in", True), ("tokens", True), ("examples", True)],
                   rows)
    lead = ("Every reason a node gave for rejecting documents, largest first"
            + (" by bytes (UTF-8 text), then documents." if by_bytes else
               " by documents: bytes and tokens need the rejected rows (run with --keep-rejected)."))
    label = "bytes removed per reason" if by_bytes else "documents removed per reason"
    return _section("removed", "Removed, by reason", esc(lead), bars(chart_rows, label) + table)


# ---- quality signals --------------------------------------------------------------------
def _signals(page: Page) -> str:
    if not page.histograms and not page.constants:
        return _section("signals", "Quality signals", "No numeric signal columns in the sinks or under _curate/rejected/.", "")
    swatches = "".join(f'<span><i style="background:{COLOURS[s]}"></i>{esc(s)}</span>' for s in SERIES)
    swatches += (f'<span><i class="line" style="border-color:{CUT}"></i>rule cut-off</span>'
                 f'<span><i class="line" style="border-color:{BUCKET_CUT};border-top-style:dotted"></i>'
                 "bucket cut</span>")
    figures = [_figure(h) for h in page.histograms]
    constant = "".join(f"<li><b>{esc(c.column)}</b> = {c.value:,.4g} for all {c.docs:,} documents"
                       + (f" ({c.undefined:,} without a value)" if c.undefined else "") + "</li>"
                       for c in page.constants)
    sample = page.scan.sample
    lead = (f"Each signal over the {sample.rows:,} documents in the sinks and under _curate/rejected/ "
            "(each document once, however many sinks or copies hold it)")
    if sample.fraction < 1.0:
        lead += f", a sample of {100 * sample.fraction:.2g}% of them chosen by a hash of the id"
    lead += ". Dashed lines are the cut-offs the run used (from its manifest and buckets.json)."
    if not page.has_manifest:
        lead += " The run's manifest is gone (--clean-work), so the rules' cut-offs are unknown."
    body = f'<div class="legend">{swatches}</div><div class="grid">{"".join(figures)}</div>'
    if constant:
        body += f'<h3>Signals with a single value</h3><ul class="constants">{constant}</ul>'
    return _section("signals", "Quality signals", esc(lead), body)


def _figure(h: Histogram) -> str:
    notes = [f"{h.total:,} documents"]
    if h.undefined:
        notes.append(f"{h.undefined:,} without a value")
    if h.underflow is not None:
        notes.append(f"first bin from {h.underflow:,.4g}")
    if h.overflow is not None:
        notes.append(f"last bin up to {h.overflow:,.4g}")
    notes += [f"{c.describe()} (off the chart)" for c in h.off_scale]
    return (f'<figure data-column="{esc(h.column)}"><figcaption>{esc(h.column)}</figcaption>'
            f'{histogram_chart(h)}<p class="note">{esc(" · ".join(notes))}</p></figure>')


# ---- duplicates -------------------------------------------------------------------------
def size_bins(sizes: Counter) -> list[tuple[str, int]]:
    """Cluster sizes as columns: each size up to 8, then ranges that double (9–16, 17–32, ...)."""
    bins: dict[str, int] = {}
    for size in sorted(sizes):
        if size <= 8:
            label = str(size)
        else:
            hi = 16
            while size > hi:
                hi *= 2
            label = f"{hi // 2 + 1}–{hi}"
        bins[label] = bins.get(label, 0) + sizes[size]
    return list(bins.items())


def _duplicates(page: Page) -> str:
    stages = {s["stage"]: s for s in page.stats.get("stages") or []}
    kinds = {n["name"]: n["stage"] for n in page.stats.get("graph") or []}
    dedup_reasons = {schema.REASON_EXACT_DUPLICATE, schema.REASON_NEAR_DUPLICATE}
    nodes = [n for n in kinds if dedup_reasons & set(stages.get(n, {}).get("rejected") or {})
             or n in page.scan.clusters]
    if not nodes:
        return _section("duplicates", "Duplicates", "The run has no dedup node.", "")
    parts = []
    for node in nodes:
        summary = stages.get(node, {}).get("summary") or {}
        facts = [(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v)) for k, v in summary.items()
                 if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
        parts.append(f"<h3>{esc(node)} <span class=\"muted\">({esc(kinds.get(node, ''))})</span></h3>{_facts(facts)}")
        sizes = page.scan.clusters.get(node)
        if sizes:
            parts.append(f'<div data-node="{esc(node)}" class="clusters">'
                         + columns(size_bins(sizes), f"cluster sizes of {node}", "documents per cluster", "clusters")
                         + f'<p class="note">{sum(sizes.values()):,} clusters; the largest holds {max(sizes):,} '
                         "documents, of which one is kept.</p></div>")
    lead = ("What each dedup node found (its summary in _curate/stats.json) and, for near-duplicate removal, how large its "
            "clusters were: one document kept per cluster, the others rejected under the cluster's id.")
    return _section("duplicates", "Duplicates", esc(lead), "".join(parts))


# ---- plan -------------------------------------------------------------------------------
def _plan(page: Page) -> str:
    if not page.plans and not page.buckets:
        return _section("plan", "Plan", "No node of this run wrote a plan or buckets.", "")
    parts = []
    for node, b in page.buckets:
        rows = [f"<tr><td>{esc(x.get('name', ''))}</td>" + _num(x.get("docs")) + _num(x.get("unique_tokens"))
                + _num(x.get("mean_score")) + _num(x.get("min_score")) + _num(x.get("utility")) + "</tr>"
                for x in b.get("buckets") or []]
        parts.append(f"<h3>Buckets ({esc(node)}): {esc(b.get('score_column', ''))} by {esc(b.get('method', ''))}</h3>"
                     + _table("buckets-table", [("bucket", False), ("docs", True), ("unique tokens", True),
                                                ("mean score", True), ("min score", True), ("utility", True)], rows))
    for node, plan in page.plans:
        facts = [("law", str(plan.get("law", ""))), ("compute", f"{float(plan.get('compute', 0)):.3g} FLOPs"),
                 ("parameters", f"{float(plan.get('params', 0)):.3g}"), ("tokens", f"{float(plan.get('tokens', 0)):,.0f}"),
                 ("predicted loss", f"{float(plan.get('predicted_loss', 0)):.4g}"),
                 ("tokens per parameter", f"{float(plan.get('tokens_per_param', 0)):.3g}"),
                 ("unique tokens used", f"{float(plan.get('unique_tokens_used', 0)):,.0f}"),
                 ("epoch cap", f"{plan.get('max_epochs')}")]
        buckets = plan.get("buckets") or []
        rows = [f"<tr><td>{esc(x.get('name', ''))}</td>" + _num(x.get("unique_tokens"), f"{float(x.get('unique_tokens', 0)):,.0f}")
                + _num(x.get("utility")) + _num(x.get("epochs"), f"{float(x.get('epochs', 0)):.3f}")
                + _num(x.get("tokens"), f"{float(x.get('tokens', 0)):,.0f}")
                + _num(x.get("effective_tokens"), f"{float(x.get('effective_tokens', 0)):,.0f}") + "</tr>"
                for x in buckets]
        chart = bars([BarRow(str(x.get("name", "")), float(x.get("tokens", 0)),
                             f"{float(x.get('epochs', 0)):.2f} epochs of {float(x.get('unique_tokens', 0)):,.0f} unique tokens",
                             f"{x.get('name')}: {float(x.get('tokens', 0)):,.0f} tokens") for x in buckets],
                     "planned tokens per bucket", colour=BAR, width=640, label_width=120)
        warnings = "".join(f'<div class="warn">{esc(w)}</div>' for w in plan.get("warnings") or [])
        parts.append(f"<h3>Plan ({esc(node)})</h3>{_facts(facts)}{warnings}{chart}"
                     + _table("plan-table", [("bucket", False), ("unique tokens", True), ("utility", True),
                                             ("epochs", True), ("tokens", True), ("effective tokens", True)], rows))
    lead = ("The quality buckets the run made and the training plan its sampler followed: tokens per bucket for the "
            "compute budget, and the epochs that takes of each bucket's unique tokens.")
    return _section("plan", "Plan", esc(lead), "".join(parts))


# ---- examples ---------------------------------------------------------------------------
def _examples(page: Page) -> str:
    totals = ranked(page.scan.totals)
    if not any(t.examples for t in totals):
        return _section("examples", "Examples", "No rejected rows were kept (run with --keep-rejected to see "
                        "examples).", "")
    drawn = {h.column: h for h in page.histograms}
    parts = []
    for i, t in enumerate(totals):
        if not t.examples:
            continue
        items = []
        for ex in t.examples:
            meta = [esc(ex.id), f"{ex.chars:,} characters"]
            if ex.column is not None and ex.value is not None:
                h = drawn.get(ex.column)
                bounds = ", ".join(c.describe() for c in h.cutoffs + h.off_scale) if h else ""
                meta.append(esc(f"{ex.column} = {ex.value:,.4g}" + (f" ({bounds})" if bounds else "")))
            more = "…" if ex.chars > len(ex.text) else ""
            items.append(f'<div class="example"><div class="meta">{" · ".join(meta)}</div>'
                         f"<pre>{esc(ex.text)}{more}</pre></div>")
        opened = " open" if not parts else ""
        parts.append(f'<details id="ex-{i}"{opened}><summary>{esc(t.reason)} <span class="muted">({esc(t.node)}) · '
                     f"{len(t.examples)} of {t.docs:,}</span></summary>{''.join(items)}</details>")
    lead = "The first rejected documents of each reason, in shard order, truncated."
    return _section("examples", "Examples", esc(lead), "".join(parts))
