"""`curate sample`: write a plan.json out as one globally ordered training mixture."""

from __future__ import annotations

import click

from curate import schema
from curate.cli.common import StoredPath
from curate.cli.options import execute, run_options


@click.command("sample")
@click.option("--plan", "plan_path", required=True, type=StoredPath(dir_okay=True),
              help="plan.json (from `curate plan --json`), or a run's OUTPUT whose _curate/meta/ holds one (a local path "
                   "or a URI): epochs per bucket.")
@click.option("--fraction-by", type=click.Choice(["score", "random"]), default="score",
              help="Which documents a bucket's fractional pass takes: the highest-scored, or a seeded random choice.")
@click.option("--score-column", default=schema.QUALITY_SCORE, help="Score column for --fraction-by score.")
@click.option("--tokens-column", default=schema.N_TOKENS, help="Token-count column (from the token_count stage).")
@click.option("--upsample-by-dup-count", is_flag=True,
              help="Give documents duplicated widely on the web more copies (weight dup_count: the copies dedup merged), keeping "
                   "each bucket's token total.")
@run_options
def command(plan_path: str, fraction_by: str, score_column: str, tokens_column: str, upsample_by_dup_count: bool,
            **opts) -> None:
    """Materialize --plan over --input (documents with quality_bucket and n_tokens) into --output.

    Each bucket with e epochs gets floor(e) full passes and a fractional pass; the output is one
    global order (shards part-NNNNN in order) that spreads every bucket evenly and keeps copies of
    a document more than half a pass apart. Rows carry epoch_index.
    """
    from curate.api import sample
    from curate.cli.common import run_file

    plan_path = run_file(plan_path, "plan.json")
    params = {"fraction_by": fraction_by, "score_column": score_column,
              "tokens_column": tokens_column, "upsample_by_dup_count": upsample_by_dup_count}
    execute(lambda inp, out, run_options: sample(inp, out, plan_path, run_options=run_options, **params), opts)
