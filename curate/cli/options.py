"""Options shared by every verb that runs a pipeline (run, dedup, classify, sample)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from curate.pipeline.runner import DEFAULT_MAX_DOC_BYTES


def run_options(f: Callable) -> Callable:
    """Decorate a verb with the options common to all pipeline runs."""
    opts = [
        click.option("--input", "input_dir", required=True, type=click.Path(exists=True),
                     help="Input shard directory (or one file): Parquet, JSON Lines (.jsonl/.json, "
                     ".gz/.zst/.bz2/.xz), CSV/TSV, Hugging Face datasets saved to disk (.arrow)."),
        click.option("--output", "output_dir", required=True, type=click.Path(), help="Output directory."),
        click.option("--workers", type=click.IntRange(min=1), default=None, show_default="number of cores",
                     help="Parallel workers."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
                     help="Where to run: a local process pool or Ray."),
        click.option("--ray-address", default=None, help="Ray cluster to join (auto or HOST:PORT); default: "
                     "start a local Ray with --workers CPUs."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run in OUTPUT, skipping finished work."),
        click.option("--overwrite", is_flag=True, help="Delete OUTPUT first if it holds anything."),
        click.option("--on-error", type=click.Choice(["fail", "skip"]), default=None, show_default="fail",
                     help="Bad input: fail (exit 2 naming file and row) or skip (listed in _errors.jsonl)."),
        click.option("--max-errors", type=click.IntRange(min=0), default=None,
                     help="With --on-error skip: fail when more than this many errors."),
        click.option("--max-doc-bytes", type=click.IntRange(min=1), default=None,
                     show_default=str(DEFAULT_MAX_DOC_BYTES),
                     help="Documents larger than this are rejected as too_large."),
        click.option("--keep-rejected/--drop-rejected", default=None, show_default="pipeline setting, else drop",
                     help="Write rejected rows (with reject_reason) under OUTPUT/_rejected/."),
        click.option("--seed", type=int, default=None, show_default="pipeline setting, else 0",
                     help="Seed for every random choice."),
        click.option("--id-column", default=None, show_default="id", help="Input column holding the document id."),
        click.option("--text-column", default=None, show_default="text", help="Input column holding the text."),
        click.option("--csv-delimiter", default=None, show_default="',' for .csv, tab for .tsv",
                     help="Field delimiter of CSV/TSV inputs (one character)."),
        click.option("--json", "as_json", is_flag=True, help="Print the run's stats as JSON on stdout."),
        click.option("--quiet", is_flag=True, help="No progress or summary on stderr."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def run_kwargs(opts: dict[str, Any]) -> dict[str, Any]:
    """Map the CLI options to Pipeline.run keyword arguments."""
    return {
        "workers": opts["workers"], "executor": opts["executor"], "ray_address": opts["ray_address"],
        "resume": opts["resume"], "overwrite": opts["overwrite"], "on_error": opts["on_error"],
        "max_errors": opts["max_errors"], "max_doc_bytes": opts["max_doc_bytes"],
        "keep_rejected": opts["keep_rejected"], "seed": opts["seed"], "id_column": opts["id_column"],
        "text_column": opts["text_column"], "csv_delimiter": opts["csv_delimiter"],
    }


def execute(pipeline: Any, opts: dict[str, Any]) -> Any:
    """Run `pipeline` with the CLI options; print the summary table (stderr) or JSON (stdout)."""
    from curate.cli.common import echo_json
    from curate.pipeline.stats import format_table

    quiet = opts["quiet"]

    def log(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    result = pipeline.run(opts["input_dir"], opts["output_dir"], progress=not quiet, log=log, **run_kwargs(opts))
    if opts["as_json"]:
        echo_json(result.stats)
    elif not quiet:
        click.echo(format_table(result.stages), err=True)
        click.echo(f"{result.stats['docs_out']:,} documents written to {result.output}", err=True)
    if result.errors:
        click.echo(f"skipped {len(result.errors)} bad row(s)/file(s) (on-error=skip); see "
                   f"{result.output}/_errors.jsonl", err=True)
    return result
