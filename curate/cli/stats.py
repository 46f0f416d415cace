"""`curate stats DIR`: show a run's stats (``_curate/stats.json``, or ``_stats.json`` in a run of the
layout before version 2): the graph as a tree with its counts, the sinks, and the per-stage table."""

from __future__ import annotations

import json

import click

from curate.cli.common import storage_option
from curate.errors import InputError
from curate.store.storage import Storage


@click.command("stats")
@storage_option
@click.argument("directory")
@click.option("--json", "as_json", is_flag=True, help="Print the raw stats file (_curate/stats.json).")
def command(directory: str, as_json: bool) -> None:
    """Show the per-stage summary of the run in DIRECTORY (a local path or a URI)."""
    from curate.cli.common import cli_storage, echo_json
    from curate.pipeline.stats import format_table, format_tree
    from curate.store.layout import STATS, stats_candidates

    storage = cli_storage()
    storage.check(directory)
    root = str(directory).rstrip("/")
    path = next((p for p in (f"{root}/{rel}" for rel in stats_candidates()) if storage.exists(p)), None)
    if path is None:
        raise InputError(f"no {STATS} (not a curate output, or the run did not finish)", file=str(directory))
    stats = json.loads(storage.read_text(path))
    if as_json:
        echo_json(stats)
        return
    click.echo(f"pipeline {stats.get('pipeline')}: {stats.get('docs_in', 0):,} docs in, "
               f"{stats.get('docs_out', 0):,} out, {stats.get('errors', 0)} errors, "
               f"{stats.get('wall_seconds', 0):.1f}s")
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
    if path.endswith(STATS):  # a run of the layout before version 2 has its work folder elsewhere
        click.echo(f"\n{_work_line(directory, storage)}")


def _work_line(directory: str, storage: Storage) -> str:
    """How much the intermediate passes under the work folder hold (what --clean-work removes)."""
    import humanize

    from curate.store.layout import WORK, WorkStore

    store = WorkStore.open(directory, storage)
    if not store.files.exists(store.work):
        return f"{WORK}/: removed"
    return (f"{WORK}/: {humanize.naturalsize(store.work_bytes())} of intermediate passes "
            "(run with --clean-work to remove it after _SUCCESS)")
