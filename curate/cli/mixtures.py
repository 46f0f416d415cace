"""`curate mixtures`: proxy-run mixtures drawn around a corpus's natural domain distribution (RegMix)."""

from __future__ import annotations

import click

from curate.cli.common import storage_option
from curate.planner.mixture import draw


@click.command("mixtures")
@storage_option
@click.option("--buckets", "buckets_path", required=True,
              help="buckets.json whose buckets carry a 'domain' ({\"buckets\": [{\"name\", \"domain\", "
                   "\"unique_tokens\"}, ...]}), or a run's OUTPUT holding one: the tokens per domain.")
@click.option("--n", "n", type=click.IntRange(min=1), default=512, help="Mixtures to draw (RegMix trains 512 proxy models).")
@click.option("--seed", type=int, default=0, help="Seed of the draws.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=draw.TEMPERATURE,
              help="Concentration = natural share ^ temperature (renormalised): below 1 flattens it.")
@click.option("--min-strength", type=click.FloatRange(min=0, min_open=True), default=draw.MIN_STRENGTH,
              help="Smallest Dirichlet strength (sparse mixtures).")
@click.option("--max-strength", type=click.FloatRange(min=0, min_open=True), default=draw.MAX_STRENGTH,
              help="Largest Dirichlet strength (mixtures near the natural one).")
@click.option("--max-usage", type=click.FloatRange(min=0, min_open=True), default=draw.MAX_USAGE,
              help="Reject a mixture giving a domain more than this many times its natural share.")
@click.option("--minimum", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=draw.MINIMUM,
              help="Shares below this are 0; shares are multiples of it.")
@click.option("--oversample", type=click.IntRange(min=1), default=draw.OVERSAMPLE,
              help="Draw this many times --n, drop duplicates, keep --n at random.")
@click.option("--output", "-o", default=None,
              help="Where to write the mixtures: .csv (columns name, mixture.<domain>) or JSON Lines "
                   "(a local path or a URI); default JSON Lines on stdout.")
def command(buckets_path: str, n: int, seed: int, temperature: float, min_strength: float, max_strength: float,
            max_usage: float, minimum: float, oversample: int, output: str | None) -> None:
    """Draw proxy-run mixtures as RegMix does: Dirichlet draws around the natural distribution of
    tokens over domains, bounded, sparse at low strength. Train a small model on each, then fit
    the results with `curate calibrate --fit mixture`."""
    import json

    from curate.cli.common import cli_storage, read_json, run_file, warn
    from curate.planner.mixture.runs import write_rows
    from curate.store.atomic import writable

    if output is not None:
        writable(output, cli_storage())
    path = run_file(buckets_path, "buckets.json")
    natural, warnings = draw.natural_distribution(read_json(path, "buckets"), path)
    for w in warnings:
        warn(w)
    rows = draw.mixture_rows(draw.draw_mixtures(natural, n, seed, temperature, min_strength, max_strength,
                                                max_usage, minimum, oversample))
    if output is None:
        for row in rows:
            click.echo(json.dumps(row))
        return
    write_rows(rows, output, cli_storage())
    click.echo(f"wrote {len(rows)} mixtures over {len(natural)} domains to {output}", err=True)
