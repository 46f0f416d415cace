"""`curate stats DIR`: show a run's stats (``_curate/stats.json``, or ``_stats.json`` in a run of
the layout before version 2): the graph as a tree with its counts, the sinks, the per-stage
table, the stages that removed most of their input; for an unfinished run, the finished tasks
per pass and what ``--resume`` will do."""

from __future__ import annotations

import json
from typing import Any

import click

from curate.cli.common import storage_option
from curate.errors import InputError
from curate.store.layout import STATS, WORK, WorkStore


@click.command("stats")
@storage_option
@click.argument("directory")
@click.option("--json", "as_json", is_flag=True, help="Print the raw stats file (_curate/stats.json; unfinished: the progress).")
def command(directory: str, as_json: bool) -> None:
    """Show the per-stage summary of the run in DIRECTORY (a local path or a URI), or how far an
    unfinished run got."""
    from curate.cli.common import cli_storage, echo_json
    from curate.store.layout import stats_candidates

    storage = cli_storage()
    storage.check(directory)
    store = WorkStore.open(directory, storage)
    root = str(directory).rstrip("/")
    path = next((p for p in (f"{root}/{rel}" for rel in stats_candidates()) if storage.exists(p)), None)
    if path is None:
        _unfinished(store, as_json)
        return
    stats = json.loads(storage.read_text(path))
    if as_json:
        echo_json(stats)
        return
    # a run of the layout before version 2 has its work folder elsewhere: no work line for it
    _finished(stats, store, work_line=path.endswith(STATS))


def _finished(stats: dict[str, Any], store: WorkStore, work_line: bool) -> None:
    from curate.pipeline.stats import format_heavy_removals, format_table, format_tree

    click.echo(f"pipeline {stats.get('pipeline')}: {stats.get('docs_in', 0):,} docs in, {_docs_out(stats)}, "
               f"{stats.get('errors', 0)} errors, {stats.get('wall_seconds', 0):.1f}s")
    if stats.get("graph"):
        click.echo("\ngraph (docs in -> kept / rejected / errored):")
        click.echo(format_tree(stats["graph"], stats["stages"]))
    if stats.get("sinks"):
        click.echo("\nsinks:")
        for name, sink in stats["sinks"].items():
            tokens = f"  {sink['tokens']:,} tokens" if "tokens" in sink else ""
            click.echo(f"  {name or '(OUTPUT/)':<20} <- {sink['from']:<24} {sink.get('format', 'parquet'):<10} "
                       f"{sink['docs']:>10,} docs  {sink['bytes'] / 1e6:>9,.2f} MB  {sink['shards']} shard(s){tokens}")
    click.echo("")
    click.echo(format_table(stats["stages"]))
    for s in stats["stages"]:
        if s.get("summary"):
            click.echo(f"\n{s['stage']}: " + json.dumps(s["summary"], indent=None)[:2000])
    removals = format_heavy_removals(stats.get("heavy_removals", []))
    if removals:
        click.echo("")
        click.echo("\n".join(removals))
    if work_line:
        click.echo(f"\n{_work_line(store)}")


def _docs_out(stats: dict[str, Any]) -> str:
    """Documents out: one count for one sink, one per sink for several (their sum means nothing:
    a mixture sink repeats documents the curated sink holds once)."""
    sinks = stats.get("sinks") or {}
    if len(sinks) <= 1:
        return f"{stats.get('docs_out', 0):,} out"
    return "out: " + ", ".join(f"{name} {sink['docs']:,}" for name, sink in sinks.items())


def _unfinished(store: WorkStore, as_json: bool) -> None:
    """An OUTPUT without its stats file: how far the run got and what --resume will do."""
    from curate.cli.common import echo_json
    from curate.pipeline.unfinished import format_progress, progress, resume_plan

    prog = progress(store)
    if prog is None:
        state = "the run stopped before its first pass" if store.files.exists(store.manifest) else \
            "not a curate output, or a run that stopped before it started"
        raise InputError(f"no {STATS} ({state})", file=store.display)
    if as_json:
        echo_json({"finished": False, **prog, "resume": resume_plan(prog)})
        return
    click.echo("\n".join(format_progress(prog)))


def _work_line(store: WorkStore) -> str:
    """How much the intermediate passes under the work folder hold (what --clean-work removes)."""
    import humanize

    if not store.files.exists(store.work):
        return f"{WORK}/: removed"
    return (f"{WORK}/: {humanize.naturalsize(store.work_bytes())} of intermediate passes "
            "(run with --clean-work to remove it after _SUCCESS)")
