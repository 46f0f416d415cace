"""`curate dedup`: MinHash near-duplicate removal (optionally after exact dedup) over a shard directory."""

from __future__ import annotations

from typing import Any

import click

from curate.cli.options import execute, run_options
from curate.stages.dedup.minhash import MinHashDedup

_P = MinHashDedup.params


@click.command("dedup")
@click.option("--threshold", type=click.FloatRange(_P["threshold"].min, _P["threshold"].max),
              default=_P["threshold"].default, help=_P["threshold"].help + ".")
@click.option("--ngram", type=click.IntRange(_P["ngram"].min, _P["ngram"].max), default=_P["ngram"].default,
              help="Words per shingle (documents with fewer words are one shingle).")
@click.option("--num-perm", type=click.IntRange(_P["num_perm"].min, _P["num_perm"].max),
              default=_P["num_perm"].default, help=_P["num_perm"].help + ".")
@click.option("--bands", type=click.IntRange(min=1), default=None, show_default="chosen from threshold",
              help="LSH bands (with --rows; either alone takes the other as num-perm // it).")
@click.option("--rows", type=click.IntRange(min=1), default=None, show_default="chosen from threshold",
              help="Hashes per LSH band.")
@click.option("--verify", is_flag=True, help="Check candidate pairs by exact Jaccard before they join a cluster "
              "(removes LSH false positives; writes shingle sets under _curate/work/).")
@click.option("--signature-check/--no-signature-check", default=_P["signature_check"].default,
              help="Without --verify: drop candidate pairs whose signatures agree on fewer than "
              "threshold - 1.5 sigma of their hashes (cheap false-positive filter).")
@click.option("--annotate-only", is_flag=True, help="Write every document with dup_cluster_id / dup_count; "
              "remove nothing.")
@click.option("--exact", is_flag=True, help="Run exact_dedup first (its dup_count is summed into clusters).")
@click.option("--memory-mb", type=click.IntRange(min=_P["memory_mb"].min), default=_P["memory_mb"].default,
              help="Memory cap of each DuckDB band / verify job; beyond it DuckDB spills to _curate/work/.")
@run_options
def command(threshold: float, ngram: int, num_perm: int, bands: int | None, rows: int | None, verify: bool,
            signature_check: bool, annotate_only: bool, exact: bool, memory_mb: int, **opts: Any) -> None:
    """Remove near-duplicate documents (MinHash LSH over word n-grams) from --input into --output.

    In each cluster the document with the highest quality_score (if that column exists), else
    the longest text, else the smallest id is kept; it gets dup_cluster_id (its own id) and
    dup_count (the documents it stands for). The others go to _curate/rejected/ with reason
    near_duplicate when --keep-rejected is given.
    """
    from curate.api import dedup

    params: dict[str, Any] = {
        "threshold": threshold, "ngram": ngram, "num_perm": num_perm, "bands": bands, "rows": rows,
        "verify": verify, "signature_check": signature_check, "annotate_only": annotate_only,
        "memory_mb": memory_mb,
    }
    # the combine step logs the bands x rows choice and its S-curve threshold
    execute(lambda inp, out, run_options: dedup(inp, out, exact=exact, run_options=run_options, **params), opts)
