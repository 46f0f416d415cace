"""Options shared by every verb that runs a pipeline (run, dedup, classify, sample): where to
read and write and how to execute, plus one flag per run setting (from RunSettings, so the CLI,
YAML and API cannot drift)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from curate.pipeline.settings import RunSettings, cli_options

_RUN_ARGS = ("workers", "executor", "ray_address", "resume", "overwrite")


def run_options(f: Callable) -> Callable:
    """Decorate a verb with the options common to all pipeline runs."""
    opts = [
        click.option("--input", "input_dir", required=True,
                     help="Input shard directory, prefix or one file (a local path or an s3://, gs://, hf:// "
                     "URI): Parquet, JSON Lines (.jsonl/.json, .gz/.zst/.bz2/.xz), CSV/TSV, Hugging Face "
                     "datasets saved to disk (.arrow)."),
        click.option("--output", "output_dir", required=True,
                     help="Output directory or prefix (a local path or an s3://, gs:// URI)."),
        click.option("--workers", type=click.IntRange(min=1), default=None, show_default="number of cores",
                     help="Parallel workers."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
                     help="Where to run: a local process pool or Ray."),
        click.option("--ray-address", default=None, help="Ray cluster to join (auto or HOST:PORT); default: "
                     "start a local Ray with --workers CPUs."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run in OUTPUT, skipping finished work."),
        click.option("--overwrite", is_flag=True, help="Delete OUTPUT first if it holds anything."),
        *(click.option(*decls, **kwargs) for decls, kwargs in cli_options()),
        click.option("--json", "as_json", is_flag=True, help="Print the run's stats as JSON on stdout."),
        click.option("--quiet", is_flag=True, help="No progress or summary on stderr."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def run_kwargs(opts: dict[str, Any]) -> dict[str, Any]:
    """The CLI options as Pipeline.run keyword arguments (the run_options of the API helpers)."""
    names = (*_RUN_ARGS, *(n for n in RunSettings.names() if n in opts))
    return {name: opts[name] for name in names}


def sink_lines(output: str, stats: dict[str, Any]) -> list[str]:
    """Where each sink was written, with its document count."""
    lines = []
    for name, sink in stats.get("sinks", {}).items():
        if name:
            tokens = f", {sink['tokens']:,} tokens" if "tokens" in sink else ""
            lines.append(f"sink {name} ({sink['from']}, {sink.get('format', 'parquet')}): {sink['docs']:,} documents"
                         f"{tokens} in {output}/{name}/")
        else:
            lines.append(f"{sink['docs']:,} documents written to {output}")
    return lines


def execute(run: Callable[..., Any], opts: dict[str, Any]) -> Any:
    """Call `run(input, output, run_options)` (an API helper) with the CLI options; print the
    summary table (stderr) or JSON (stdout)."""
    from curate.cli.common import echo_json
    from curate.pipeline.stats import format_table

    quiet = opts["quiet"]

    def log(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    result = run(opts["input_dir"], opts["output_dir"], {**run_kwargs(opts), "progress": not quiet, "log": log})
    if opts["as_json"]:
        echo_json(result.stats)
    elif not quiet:
        click.echo(format_table(result.stages), err=True)
        for line in sink_lines(result.output, result.stats):
            click.echo(line, err=True)
    if result.errors:
        click.echo(f"skipped {len(result.errors)} bad row(s)/file(s) (on-error=skip); see "
                   f"{result.output}/_errors.jsonl", err=True)
    return result
