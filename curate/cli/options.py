"""Options shared by every verb that runs a pipeline (run, dedup, classify, sample): where to
read and write and how to execute, plus one flag per run setting (from RunSettings, so the CLI,
YAML and API cannot drift)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from curate.errors import ConfigError
from curate.pipeline.settings import RunSettings, cli_options

_RUN_ARGS = ("workers", "executor", "resume", "overwrite")


def run_options(f: Callable) -> Callable:
    """Decorate a verb with the options common to all pipeline runs."""
    opts = [
        click.option("--input", "input_dir", required=True,
                     help="Input shard directory, prefix or one file (a local path or an s3://, gs://, hf:// "
                     "URI): Parquet, JSON Lines (.jsonl/.json, .gz/.zst/.bz2/.xz), CSV/TSV, WARC and WET (.warc.gz, .wet.gz; "
                     "HTML pages' text), Hugging Face datasets saved to disk (.arrow)."),
        click.option("--output", "output_dir", required=True,
                     help="Output directory or prefix (a local path or an s3://, gs:// URI)."),
        click.option("--workers", type=click.IntRange(min=1), default=None, show_default="the CPUs this process may use",
                     help="Parallel workers."),
        click.option("--executor", default="local",
                     help="Where to run: 'local' (a process pool) or 'ray', or a plugin's; `curate executors` "
                     "lists them and their options."),
        click.option("--executor-option", "executor_options", multiple=True, metavar="KEY=VALUE",
                     help="An option of the executor, repeatable; e.g. --executor-option address=head:6379 for "
                     "ray."),
        click.option("--ray-address", default=None, help="Deprecated: --executor-option address=ADDRESS."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run in OUTPUT, skipping finished work."),
        click.option("--overwrite", is_flag=True, help="Delete what an earlier curate run wrote in OUTPUT first (only the names its marker records)."),
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
    return {**{name: opts[name] for name in names}, "executor_options": executor_options(opts)}


def executor_options(opts: dict[str, Any]) -> dict[str, Any]:
    """``--executor-option KEY=VALUE`` items as a mapping (values read as YAML scalars), with the
    deprecated ``--ray-address`` as ``address``."""
    from curate.cli.common import warn
    from curate.store.storage import parse_option

    try:
        options = dict(parse_option(item, "--executor-option") for item in opts.get("executor_options") or ())
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    if opts.get("ray_address"):
        warn("--ray-address is deprecated: use --executor-option address=" + opts["ray_address"])
        options.setdefault("address", opts["ray_address"])
    return options


def sink_lines(output: str, stats: dict[str, Any]) -> list[str]:
    """Where each sink was written, with its document count."""
    lines = []
    for name, sink in stats.get("sinks", {}).items():
        tokens = f", {sink['tokens']:,} tokens" if "tokens" in sink else ""
        lines.append(f"sink {name} ({sink['from']}, {sink.get('format', 'parquet')}): {sink['docs']:,} documents"
                     f"{tokens} in {output}/{name}/")
    return lines


def execute(run: Callable[..., Any], opts: dict[str, Any]) -> Any:
    """Call `run(input, output, run_options)` (an API helper) with the CLI options; print the
    summary table (stderr) or JSON (stdout)."""
    from curate.cli.common import echo_json, log_to_stderr
    from curate.pipeline.stats import format_heavy_removals, format_table
    from curate.store.layout import ERRORS

    quiet = opts["quiet"]
    log_to_stderr(quiet)
    result = run(opts["input_dir"], opts["output_dir"], {**run_kwargs(opts), "progress": not quiet})
    if opts["as_json"]:
        echo_json(result.stats)
    elif not quiet:
        click.echo(format_table(result.stages), err=True)
        for line in sink_lines(result.output, result.stats):
            click.echo(line, err=True)
        for line in format_heavy_removals(result.stats.get("heavy_removals", [])):
            click.echo(line, err=True)
    if result.errors:
        click.echo(f"skipped {len(result.errors)} bad row(s)/file(s) (on-error=skip); see "
                   f"{result.output}/{ERRORS}", err=True)
    return result
