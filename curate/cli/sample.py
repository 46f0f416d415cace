"""`curate sample`: write a plan.json out as one globally ordered training mixture, or, with
--mixture, one proxy-run training set per drawn mixture (`curate mixtures`)."""

from __future__ import annotations

from typing import Any

import click

from curate import schema
from curate.cli.common import StoredPath
from curate.cli.options import execute, run_options
from curate.errors import ConfigError


@click.command("sample")
@click.option("--plan", "plan_path", default=None, type=StoredPath(dir_okay=True),
              help="plan.json (from `curate plan --json`), or a run's OUTPUT whose _curate/meta/ holds one (a local path "
                   "or a URI): epochs per bucket. Give this or --mixture.")
@click.option("--mixture", "mixture_path", default=None,
              help="Mixtures drawn by `curate mixtures` (CSV or JSON Lines: name, mixture per domain): write one "
                   "proxy-run training set per row, of --tokens tokens with the row's domain shares, to OUTPUT/<name>/.")
@click.option("--tokens", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --mixture: the training tokens of every proxy run (RegMix: 1B).")
@click.option("--buckets", "buckets_path", default=None,
              help="With --mixture: buckets.json by domain and quality (quality_buckets with by: domain); default: "
                   "the one in --input's _curate/meta/ (a run's OUTPUT).")
@click.option("--phases", "phases_spec", default=None, metavar="YAML|FILE",
              help="Phases to write in order (as `curate plan --phases`); default: the plan's own phases, else one.")
@click.option("--fraction-by", type=click.Choice(["score", "random"]), default=None,
              show_default="score; random with --mixture",
              help="Which documents a bucket's fractional pass takes: the highest-scored, or a seeded random choice "
                   "(a proxy run samples each domain as it is).")
@click.option("--score-column", default=schema.QUALITY_SCORE, help="Score column for --fraction-by score.")
@click.option("--tokens-column", default=schema.N_TOKENS, help="Token-count column (from the token_count stage).")
@click.option("--upsample-by-dup-count", is_flag=True,
              help="Give documents duplicated widely on the web more copies (weight dup_count: the copies dedup merged), keeping "
                   "each bucket's token total.")
@run_options
def command(plan_path: str | None, mixture_path: str | None, tokens: float | None, buckets_path: str | None,
            phases_spec: str | None, fraction_by: str | None, score_column: str, tokens_column: str,
            upsample_by_dup_count: bool, **opts: Any) -> None:
    """Materialize --plan over --input (documents with quality_bucket and n_tokens) into --output.

    Each bucket with e epochs gets floor(e) full passes and a fractional pass; the output is one
    global order (shards part-NNNNN in order) that spreads every bucket evenly and keeps copies of
    a document more than half a pass apart; a plan's phases are written one after the other. Rows
    carry epoch_index. With --mixture, one such set per drawn mixture, under OUTPUT/<name>/.
    """
    from curate.cli.common import run_file
    from curate.cli.plan import read_phases

    if (plan_path is None) == (mixture_path is None):
        raise ConfigError("give --plan (a plan.json) or --mixture (mixtures from `curate mixtures`), not both")
    params: dict[str, Any] = {"fraction_by": fraction_by or ("random" if mixture_path else "score"),
                              "score_column": score_column, "tokens_column": tokens_column,
                              "upsample_by_dup_count": upsample_by_dup_count}
    if phases_spec is not None:
        params["phases"] = [p.to_dict() for p in read_phases(phases_spec)]
    if mixture_path is not None:
        _proxy_sets(mixture_path, tokens, buckets_path, params, opts)
        return
    if tokens is not None or buckets_path is not None:
        raise ConfigError("--tokens and --buckets go with --mixture")
    from curate.api import sample

    plan_file = run_file(plan_path, "plan.json")
    execute(lambda inp, out, run_options: sample(inp, out, plan_file, run_options=run_options, **params), opts)


def _proxy_sets(mixture_path: str, tokens: float | None, buckets_path: str | None, params: dict[str, Any],
                opts: dict[str, Any]) -> None:
    """One sample run per drawn mixture, into OUTPUT/<name>/; a line per run (or JSON) at the end."""
    from curate.api import Pipeline
    from curate.cli.common import cli_storage, echo_json, log_to_stderr, read_json, run_file, warn
    from curate.cli.options import run_kwargs
    from curate.planner.mixture.proxy import check_names, proxy_plans
    from curate.planner.mixture.runs import read_mixture_runs
    from curate.store.storage import parse

    if tokens is None:
        raise ConfigError("--tokens is required with --mixture: the training tokens of each proxy run")
    where = run_file(buckets_path or opts["input_dir"], "buckets.json")
    runs = read_mixture_runs(mixture_path, need_losses=False, storage=cli_storage())
    check_names(runs.names)
    plans = proxy_plans(read_json(where, "buckets"), runs, tokens, where)
    for _, doc in plans:
        for w in doc["warnings"]:
            warn(w)
    log_to_stderr(opts["quiet"])
    root = parse(opts["output_dir"])
    done = []
    for name, doc in plans:
        out = root.child(name).uri
        result = Pipeline.from_stages([("sample", {"plan": doc, **params})], name="sample").run(
            opts["input_dir"], out, **{**run_kwargs(opts), "progress": False})
        stage = next(s for s in result.stages if s["stage"] == "sample")
        done.append({"name": name, "output": out, "rows": stage["summary"]["rows_out"],
                     "written_tokens": stage["summary"]["written_tokens"],
                     "domains": {d: v["written_tokens"] for d, v in stage["summary"].get("domains", {}).items()}})
        if not opts["quiet"] and not opts["as_json"]:
            click.echo(f"{name}: {done[-1]['rows']} rows, {done[-1]['written_tokens']:.6g} tokens -> {out}", err=True)
    if opts["as_json"]:
        echo_json({"mixtures": done})
