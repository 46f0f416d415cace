"""`curate predict`: the predicted loss of proxy runs under a law.json (mixture or repetition)."""

from __future__ import annotations

import json

import click

from curate.cli.common import StoredPath, storage_option


@click.command("predict")
@storage_option
@click.argument("law_spec", metavar="LAW")
@click.argument("runs_path", metavar="RUNS", type=StoredPath())
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line {\"name\", \"predicted_loss\"} per run (with \"loss\" where the run gives it); "
                   "warnings go to stderr.")
def command(law_spec: str, runs_path: str, as_json: bool) -> None:
    """Predict the loss of every run of RUNS (JSON Lines, Parquet or CSV) under LAW (a law.json, or
    datablations / chinchilla), in input order.

    Rows need a name and what the law reads: a mixture for a mixture law; params, tokens and
    unique_tokens (or buckets) for a repetition law. Runs outside what the law was fitted on are
    predicted all the same, with a warning."""
    from curate.cli.common import cli_storage, warn
    from curate.planner.mixture import predict, rank_scores
    from curate.planner.report import _table

    result = predict(law_spec, runs_path, cli_storage())
    rows = result.rows()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        measured = all("loss" in r for r in rows)
        click.echo(_table(["run", "predicted loss", *(["measured", "error"] if measured else [])],
                          [[r["name"], f"{r['predicted_loss']:.4f}",
                            *([f"{r['loss']:.4f}", f"{r['predicted_loss'] - r['loss']:+.4f}"] if measured else [])]
                           for r in rows]))
        if measured:
            s = rank_scores(result.measured, result.predicted)
            rho = "n/a" if s["spearman"] is None else f"{s['spearman']:.4f}"
            click.echo(f"\n{s['runs']} runs: Spearman {rho}, mean absolute error {s['mae']:.4f}")
    for w in result.warnings:
        warn(w)
