"""`curate sample-data`: generate the deterministic synthetic corpus."""

from __future__ import annotations

import click


@click.command("sample-data")
@click.option("--docs", "n_docs", type=click.IntRange(min=1), default=2000, help="Number of documents.")
@click.option("--seed", type=int, default=0, help="Random seed (same seed, same bytes).")
@click.option("--shards", "n_shards", type=click.IntRange(min=1), default=4, help="Number of shard files.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "jsonl", "jsonl.gz"]), default="parquet",
              help="Shard format.")
@click.option("--kind", type=click.Choice(["web", "reference"]), default="web",
              help="web: all quality tiers with planted duplicates; reference: clean reference-like prose.")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output directory.")
def command(n_docs: int, seed: int, n_shards: int, fmt: str, kind: str, out_dir: str) -> None:
    """Write a web-like corpus with planted duplicates, quality tiers, domains and ground-truth columns."""
    from curate.cli.common import echo_json
    from curate.sample_data import generate

    summary = generate(out_dir, n_docs=n_docs, seed=seed, n_shards=n_shards, fmt=fmt, kind=kind)
    echo_json(summary)
