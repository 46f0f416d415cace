"""Small inline SVG charts, written by hand: horizontal bars, a stacked histogram with its
cut-offs, and columns by category. Every text is escaped; every bar carries a ``<title>`` (its
tooltip in a browser) with its exact numbers. Sizes are in CSS pixels; the page's CSS sets the
font and the colours' meaning is given by a legend in the page."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from curate.run_report.histogram import SERIES, Histogram, nice_ticks

FONT = 11  # px, the charts' text
COLOURS = {SERIES[0]: "#4c78a8", SERIES[1]: "#e45756", SERIES[2]: "#c7c1bd"}
BAR = "#4c78a8"
REJECTED = "#e45756"
CUT = "#1f2933"
BUCKET_CUT = "#8e44ad"
GRID = "#e6e9ee"
MUTED = "#6b7480"

Scale = Callable[[float], float]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def compact(value: float, digits: int = 3) -> str:
    """A number in a few characters (`digits` significant ones), for axis ticks: 0.25, 12, 3.4k, 1.2M."""
    v = float(value)
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.{digits}g}{unit}"
    if v == round(v):
        return str(int(round(v)))
    return f"{v:.{digits}g}"


def tick_labels(ticks: np.ndarray) -> list[str]:
    """Labels for an axis's ticks: as compact as keeps them apart (ticks 0.9975 and 0.998 on a
    narrow range need four digits where three would print 0.998 twice)."""
    for digits in range(3, 16):
        labels = [compact(t, digits) for t in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return [repr(float(t)) for t in ticks]


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(label)}">'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, text: object, anchor: str = "start", cls: str = "", weight: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    extra += f' font-weight="{weight}"' if weight else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{esc(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str = "", rx: float = 0) -> str:
    tip = f"<title>{esc(title)}</title>" if title else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}"'
            + (f' rx="{rx}"' if rx else "") + (f">{tip}</rect>" if tip else "/>"))


@dataclass
class BarRow:
    label: str
    value: float
    note: str  # printed after the bar
    title: str  # the bar's tooltip


def bars(rows: list[BarRow], label: str, colour: str = REJECTED, width: int = 760, label_width: int = 270,
         row_height: int = 22) -> str:
    """Horizontal bars, one per row, longest first as given, scaled to the largest value."""
    note_width = 190
    span = width - label_width - note_width
    top = max((r.value for r in rows), default=0) or 1
    body = []
    for i, r in enumerate(rows):
        y = i * row_height
        w = span * r.value / top
        body.append(_text(label_width - 8, y + row_height * 0.68, r.label, "end"))
        body.append(_rect(label_width, y + 4, max(w, 1.5), row_height - 8, colour, r.title, rx=2))
        body.append(_text(label_width + w + 6, y + row_height * 0.68, r.note, cls="muted"))
    return _svg(width, row_height * len(rows) + 4, body, label)


def histogram_chart(h: Histogram, width: int = 340, height: int = 180) -> str:
    """A stacked histogram of `h` with its cut-offs as dashed lines labelled above the plot. A bin
    more than SPIKE times taller than any other (a signal that is 0 for most documents) is cut at
    the top of the plot, its count written beside it, so that the other bins stay readable."""
    left, right, top, bottom = 38, 12, 30, 24
    pw, ph = width - left - right, height - top - bottom
    edges = h.edges
    stack = np.vstack([h.counts[s] for s in SERIES])
    totals = stack.sum(axis=0)
    peak = _peak(totals)
    x_of = _scale(edges[0], edges[-1], left, left + pw)
    body = [_gridlines(left, top, pw, ph, peak)]
    for b in range(len(edges) - 1):
        x0, x1 = x_of(edges[b]), x_of(edges[b + 1])
        shrink = min(1.0, peak / totals[b]) if totals[b] else 1.0
        y = top + ph
        body.append(f'<g class="bin"><title>{esc(_bin_title(h, b))}</title>')
        for s, series in enumerate(SERIES):
            bar_h = ph * int(stack[s, b]) * shrink / peak
            if bar_h > 0:
                y -= bar_h
                body.append(_rect(x0 + 0.5, y, x1 - x0 - 1, bar_h, COLOURS[series]))
        body.append("</g>")
        if shrink < 1.0:
            body.append(f'<path d="M{x0:.1f},{top + 7:.1f} L{x1:.1f},{top + 3:.1f} M{x0:.1f},{top + 11:.1f} '
                        f'L{x1:.1f},{top + 7:.1f}" stroke="#fff" stroke-width="2"/>')
            body.append(_text(x1 + 3, top + 9, compact(int(totals[b])), cls="muted"))
    body.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{MUTED}"/>')
    body += _x_ticks(h, x_of, top + ph)
    body += _cutoff_marks(h, x_of, top, ph)
    return _svg(width, height, body, f"histogram of {h.column}")


SPIKE = 4.0  # a bin this many times taller than the next tallest is cut at the top of the plot


def _peak(totals: np.ndarray) -> float:
    """The count at the top of the plot: the tallest bin, or a little above the second tallest
    when the tallest is a spike."""
    ordered = np.sort(totals)[::-1]
    if len(ordered) > 1 and ordered[1] > 0 and ordered[0] > SPIKE * ordered[1]:
        return 1.15 * float(ordered[1])
    return float(ordered[0]) or 1.0


def _scale(lo: float, hi: float, a: float, b: float) -> Scale:
    span = (hi - lo) or 1.0
    return lambda v: a + (b - a) * (float(v) - lo) / span


def _gridlines(left: float, top: float, pw: float, ph: float, peak: float) -> str:
    lines = []
    for value in nice_ticks(0, peak, 3, integer=True):
        y = top + ph * (1 - value / peak)
        lines.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="{GRID}"/>')
        lines.append(_text(left - 5, y + 3.5, compact(value), "end", "muted"))
    return "".join(lines)


def _x_ticks(h: Histogram, x_of: Scale, baseline: float) -> list[str]:
    lo, hi = h.edges[0], h.edges[-1]
    if h.integer:
        lo, hi = lo + 0.5, hi - 0.5
    out = []
    ticks = nice_ticks(lo, hi, 5, h.integer)
    for t, label in zip(ticks, tick_labels(ticks)):
        x = x_of(t)
        out.append(f'<line x1="{x:.1f}" y1="{baseline}" x2="{x:.1f}" y2="{baseline + 4}" stroke="{MUTED}"/>')
        out.append(_text(x, baseline + 15, label, "middle", "muted"))
    return out


def _cutoff_marks(h: Histogram, x_of: Scale, top: float, ph: float) -> list[str]:
    """A dashed line per cut-off, at the boundary between kept and rejected values (between two
    whole units for an integer signal), labelled above the plot, staggered when close."""
    out = []
    placed: list[float] = []
    for c in sorted(h.cutoffs, key=lambda c: c.value):
        shift = (-0.5 if c.kind == "min" else 0.5 if c.kind == "max" else 0.0) if h.integer else 0.0
        x = min(max(x_of(c.value + shift), x_of(h.edges[0])), x_of(h.edges[-1]))
        row = sum(1 for p in placed if abs(p - x) < 70)
        placed.append(x)
        colour = BUCKET_CUT if c.kind == "bucket" else CUT
        dash = "2 3" if c.kind == "bucket" else "5 3"
        out.append(f'<line class="cutoff" x1="{x:.1f}" y1="{top - 4 - 11 * row:.1f}" x2="{x:.1f}" y2="{top + ph}" '
                   f'stroke="{colour}" stroke-width="1.4" stroke-dasharray="{dash}"><title>{esc(c.describe())}'
                   "</title></line>")
        anchor = "end" if x > x_of(h.edges[-1]) - 40 else "start" if x < x_of(h.edges[0]) + 40 else "middle"
        out.append(f'<text class="cutoff-label" x="{x:.1f}" y="{top - 7 - 11 * row:.1f}" text-anchor="{anchor}" '
                   f'fill="{colour}">{esc(c.describe())}</text>')
    return out


def _bin_title(h: Histogram, b: int) -> str:
    lo, hi = h.edges[b], h.edges[b + 1]
    if h.integer:
        first, last = int(round(lo + 0.5)), int(round(hi - 0.5))
        where = str(first) if first == last else f"{first}–{last}"
    else:
        where = f"{lo:.4g}–{hi:.4g}"
    if h.underflow is not None and b == 0:
        where += f" and below (down to {h.underflow:,.4g})"
    if h.overflow is not None and b == len(h.edges) - 2:
        where += f" and above (up to {h.overflow:,.4g})"
    parts = [f"{int(h.counts[s][b]):,} {s}" for s in SERIES]
    return f"{h.column} {where}: " + ", ".join(parts)


def columns(pairs: list[tuple[str, int]], label: str, x_label: str, y_label: str, height: int = 180) -> str:
    """Vertical columns, one per category (in the order given), their value printed on top."""
    left, right, top, bottom = 40, 10, 18, 34
    slot = 56
    width = left + right + slot * max(len(pairs), 3)
    pw, ph = width - left - right, height - top - bottom
    peak = max((v for _, v in pairs), default=0) or 1
    body = [_gridlines(left, top, pw, ph, peak)]
    for i, (name, value) in enumerate(pairs):
        bar_h = ph * value / peak
        x = left + i * slot + slot * 0.15
        body.append(_rect(x, top + ph - bar_h, slot * 0.7, bar_h, BAR, f"{y_label}: {value:,} at {x_label} {name}"))
        body.append(_text(x + slot * 0.35, top + ph - bar_h - 4, f"{value:,}", "middle"))
        body.append(_text(x + slot * 0.35, top + ph + 14, name, "middle", "muted"))
    body.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{MUTED}"/>')
    body.append(_text(left + pw / 2, height - 3, x_label, "middle", "muted"))
    return _svg(width, height, body, label)
