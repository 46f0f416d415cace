"""`curate run PIPELINE`: run a pipeline YAML over a shard directory."""

from __future__ import annotations

import click

from curate.cli.options import execute, run_options


@click.command("run")
@click.argument("pipeline")
@run_options
def command(pipeline: str, **opts) -> None:
    """Run the PIPELINE YAML over --input into --output."""
    from curate.api import run

    execute(lambda inp, out, run_options: run(pipeline, inp, out, **run_options), opts)
