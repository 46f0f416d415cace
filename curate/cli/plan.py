"""`curate plan`: epochs per quality bucket and model size for a compute budget; with a mixture
law (``curate calibrate --fit mixture``), domain shares and epochs per (domain, quality) bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from curate.cli.common import read_json, run_file, storage_option
from curate.errors import ConfigError


def read_buckets(path: str | Path, law: str = "datablations") -> tuple[list[Any], Any]:
    """Read and validate a buckets.json file (a local path or a URI) for planning under `law`; errors name the file."""
    from curate.cli.common import cli_storage
    from curate.planner import load_buckets

    return load_buckets(str(path), law, cli_storage())


def parse_frontier(spec: str) -> list[float]:
    """'1e18:1e24[:points]' -> budgets evenly spaced in log (default 13 points)."""
    from curate.planner import log_space

    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"--frontier expects LO:HI[:POINTS], got {spec!r}")
    try:
        lo, hi = float(parts[0]), float(parts[1])
        points = int(parts[2]) if len(parts) == 3 else 13
    except ValueError:
        raise ConfigError(f"--frontier expects numbers LO:HI[:POINTS], got {spec!r}") from None
    return log_space(lo, hi, points)


def read_phases(spec: str) -> list[Any]:
    """--phases: a YAML or JSON list of phases, or a file (a local path or a URI) holding one."""
    import yaml

    from curate.cli.common import cli_storage
    from curate.planner.phases import parse_phases

    storage = cli_storage()
    text = storage.read_text(spec) if not spec.lstrip().startswith("[") and storage.file_exists(spec) else spec
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--phases: not YAML or JSON: {exc}") from None
    return parse_phases(value, "--phases")


def mixture_law_of(law: str) -> Any:
    """The mixture law `law` names (a law.json of kind mixture), or None for a repetition law."""
    from curate.cli.common import cli_storage
    from curate.planner.laws import LAWS
    from curate.planner.mixture.law import MixtureLaw

    if law in LAWS or not cli_storage().file_exists(law):
        return None
    from curate.planner.lawfile import read_law

    found = read_law(law, cli_storage())
    return found if isinstance(found, MixtureLaw) else None


def show_plan(path: str, as_json: bool, plot_path: str | None) -> None:
    """Print (and optionally plot) a plan.json without planning again."""
    from curate.planner import Plan

    data = read_json(path, "plan")
    try:
        shown = Plan.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    _show(shown, as_json, plot_path)


@click.command("plan")
@storage_option
@click.option("--buckets", "buckets_path", default=None,
              help="buckets.json: {\"buckets\": [{\"name\", \"unique_tokens\", \"utility\", ...}]} "
                   "(written by the quality_buckets stage, or by hand), or a run's OUTPUT whose _curate/meta/ holds one. "
                   "Required unless --from-plan.")
@click.option("--from-plan", "from_plan", default=None,
              help="Show an existing plan.json (e.g. the one a pipeline's sample stage wrote; or give the run's "
                   "OUTPUT) instead of planning.")
@click.option("--compute", type=float, default=None,
              help="Compute budget in FLOPs (C = 6 N D), e.g. 1e21. Required unless --frontier.")
@click.option("--params", type=float, default=None, show_default="searched",
              help="Fix the model size N (parameters); by default N is chosen to minimise predicted loss.")
@click.option("--tokens", type=click.FloatRange(min=0, min_open=True), default=None, show_default="searched",
              help="Fix the run's training tokens D (then N = C / 6D); instead of --params.")
@click.option("--max-epochs", type=click.FloatRange(min=0, min_open=True), default=None,
              show_default="where repetition was seen to help at comparable N",
              help="At most this many epochs of any bucket; by default the most repetition seen to lower the loss at "
                   "model sizes like the plan's in the runs the law was fitted on; inf for no cap.")
@click.option("--law", default="datablations", metavar="NAME|law.json",
              help="Loss law: datablations (Muennighoff et al. 2023: repeated data and excess parameters decay), "
                   "chinchilla (Besiroglu et al. 2024 refit; repeated tokens still discounted), or a law.json "
                   "from `curate calibrate` (its bucket utilities and R_D* replace buckets.json's; epochs get ranges). "
                   "A mixture law.json (curate calibrate --fit mixture) plans domain shares and epochs per (domain, "
                   "quality) bucket; --buckets must then carry a domain per bucket (quality_buckets with by: domain).")
@click.option("--repetition-law", default="datablations", metavar="NAME|law.json",
              help="With a mixture --law: the law that sizes the run (N, D), discounts repeats and charges the tokens "
                   "they lose: datablations, chinchilla or a law.json from `curate calibrate`.")
@click.option("--phases", "phases_spec", default=None, metavar="YAML|FILE",
              help="Phases of the run, e.g. '[{until: 0.85}, {until: 1.0, upsample: {high: 3}}]' or proportions per "
                   "phase ('{until: 0.5, proportions: {web: 0.8, code: 0.2}}'), or a file holding the list: each phase's "
                   "share of every bucket, written to plan.json for the sampler.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the top-k search over mixtures (mixture laws fitted with --model linear or gbm).")
@click.option("--frontier", "frontier_spec", default=None, metavar="LO:HI[:POINTS]",
              help="Plan at POINTS budgets (default 13) log-spaced from LO to HI, e.g. 1e18:1e24:13.")
@click.option("--plot", "plot_path", default=None,
              help="Write a PNG (a local path or a URI): the plan's epochs and tokens per bucket, or with --frontier epochs per "
                   "bucket and predicted loss against compute.")
@click.option("--json", "as_json", is_flag=True,
              help="Print only JSON on stdout (plan.json format; with --frontier {\"frontier\": [plans]}); "
                   "warnings go to stderr.")
@click.option("--allow-extrapolation", is_flag=True,
              help="Plan even when the plan is not sensible (saturated compute, a model more than 10x outside the "
                   "law's fit range, under one token per parameter); by default that is exit 2 with advice.")
@click.option("--ranges/--no-ranges", default=None,
              help="Recompute the plan under every bootstrap draw of the law (epochs and N ranges); on by default, "
                   "off for --frontier (every draw at every budget).")
def command(buckets_path: str | None, from_plan: str | None, compute: float | None, params: float | None,
            tokens: float | None, max_epochs: float | None, law: str, repetition_law: str, phases_spec: str | None,
            seed: int, frontier_spec: str | None, plot_path: str | None, as_json: bool, allow_extrapolation: bool,
            ranges: bool | None) -> None:
    """Plan how many epochs of each quality bucket to train on, and how large a model, for a compute
    budget; with a mixture law, how much of each domain too."""
    from curate.cli.common import cli_storage, echo_json, warn, write_plot
    from curate.planner import frontier, plan
    from curate.planner.phases import with_phases
    from curate.planner.report import format_frontier, plot_frontier, require_plotting

    if plot_path:
        require_plotting()
    if from_plan is not None:
        show_plan(run_file(from_plan, "plan.json"), as_json, plot_path)
        return
    if buckets_path is None:
        raise ConfigError("--buckets is required (or --from-plan to show an existing plan)")
    if tokens is not None and params is not None:
        raise ConfigError("give --tokens or --params, not both")
    phases = read_phases(phases_spec) if phases_spec is not None else None
    mixture = mixture_law_of(law)
    if mixture is not None:
        if frontier_spec is not None or compute is None:
            raise ConfigError("a mixture --law plans one budget: give --compute (not --frontier)")
        from curate.planner.mixture.plan import plan_mixture

        _show(plan_mixture(mixture, run_file(buckets_path, "buckets.json"), compute, tokens=tokens, params=params,
                           max_epochs=max_epochs, repetition_law=repetition_law, phases=phases,
                           ranges=ranges is not False, allow_extrapolation=allow_extrapolation, seed=seed,
                           storage=cli_storage()), as_json, plot_path)
        return
    buckets, law_obj = read_buckets(run_file(buckets_path, "buckets.json"), law)
    if frontier_spec is not None:
        if phases is not None or tokens is not None:
            raise ConfigError("--phases and --tokens plan one budget: give --compute (not --frontier)")
        if compute is not None:
            raise ConfigError("give either --compute or --frontier, not both")
        plans = frontier(buckets, parse_frontier(frontier_spec), params=params, max_epochs=max_epochs, law=law_obj,
                         ranges=bool(ranges))
        if as_json:
            echo_json({"frontier": [p.to_dict() for p in plans]})
        else:
            click.echo(format_frontier(plans))
        last = plans[-1]
        for w in last.warnings:
            warn(f"at {last.compute:.3g} FLOPs: {w}")
        if plot_path:
            write_plot(lambda tmp: plot_frontier(plans, tmp), plot_path)
        return
    if compute is None:
        raise ConfigError("--compute is required (or use --frontier LO:HI[:POINTS])")
    if tokens is not None:
        params = compute / (6.0 * tokens)
    planned = plan(buckets, compute, params=params, max_epochs=max_epochs, law=law_obj, ranges=ranges is not False,
                   allow_extrapolation=allow_extrapolation)
    _show(with_phases(planned, phases) if phases else planned, as_json, plot_path)


def _show(the_plan: Any, as_json: bool, plot_path: str | None) -> None:
    """Print a plan (table, or JSON alone on stdout), its warnings on stderr, and plot it if asked."""
    from curate.cli.common import echo_json, warn, write_plot
    from curate.planner.mixture.report import format_mixture_plan, plot_mixture_plan
    from curate.planner.report import format_plan, plot_plan

    mixture = the_plan.extra.get("kind") == "mixture"
    if as_json:
        echo_json(the_plan.to_dict())
    else:
        click.echo(format_mixture_plan(the_plan) if mixture else format_plan(the_plan))
    for w in the_plan.warnings:
        warn(w)
    if plot_path:
        write_plot(lambda tmp: (plot_mixture_plan if mixture else plot_plan)(the_plan, tmp), plot_path)
