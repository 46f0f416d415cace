"""Build a finished run's HTML report and write it: inside the run (where its store keeps the
report) or to a file the caller names (a local path or a URI)."""

from __future__ import annotations

from pathlib import Path

from curate.run_report import EXAMPLES, MAX_ROWS
from curate.run_report.histogram import Constant, Histogram, histogram
from curate.run_report.page import Page, render
from curate.run_report.run_files import RunFiles
from curate.run_report.scan import scan_run
from curate.run_report.signals import find_signals
from curate.store.atomic import atomic_path
from curate.store.storage import Storage


def write_report(output: str | Path, file: str | Path | None = None, storage: Storage | None = None, *,
                 max_rows: int = MAX_ROWS, examples: int = EXAMPLES) -> str:
    """Write the report of the finished run in `output` to `file` (default: the run's own report
    file, beside its other files that are no sink) and return where it went. InputError (exit 2)
    if `output` is not a finished curate run."""
    storage = storage or Storage()
    run = RunFiles.open(output, storage)
    html = render(build_page(run, max_rows=max_rows, examples=examples)).encode("utf-8")
    if file is None:
        run.store.files.write_bytes(run.store.report_file, html)
        return run.store.display + run.store.report_file[len(run.store.root):]
    with atomic_path(file, storage) as tmp:
        tmp.write_bytes(html)
    return str(file)


def build_page(run: RunFiles, *, max_rows: int = MAX_ROWS, examples: int = EXAMPLES) -> Page:
    """Everything the page shows, read from `run`."""
    nodes = [n["name"] for n in run.graph]
    buckets = [(n, b) for n in nodes if (b := run.meta_json(n, "buckets.json")) is not None]
    plans = [(n, p) for n in nodes if (p := run.meta_json(n, "plan.json")) is not None]
    signals = find_signals(run.node_specs(), [b for _, b in buckets])
    scan = scan_run(run, signals, max_rows, examples)
    reasons, sample = scan.sample.reason_array(), scan.sample
    drawn = [histogram(signals.spec(c), sample.column(c), reasons, sample.integer[c]) for c in sample.values]
    return Page(run.store.display, run.stats, run.finished(), scan, [h for h in drawn if isinstance(h, Histogram)],
                [h for h in drawn if isinstance(h, Constant)], plans, buckets, run.manifest is not None)
