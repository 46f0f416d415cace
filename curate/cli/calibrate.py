"""`curate calibrate`: fit the planner's constants from proxy-run results into a law.json."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from curate.cli.common import StoredPath, storage_option
from curate.errors import ConfigError


def parse_holdout(spec: str | None) -> int | list[str] | None:
    """'3' -> the 3 largest-compute runs; 'a,b' -> the runs named a and b."""
    if spec is None:
        return None
    return int(spec) if spec.strip().isdigit() else [s.strip() for s in spec.split(",") if s.strip()]


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, a local path or a URI (the classifier a bucket definition depends on)."""
    from curate.cli.common import cli_storage
    from curate.store.storage import parse

    h = hashlib.sha256()
    with cli_storage().open_input_stream(parse(path)) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


@click.command("calibrate")
@storage_option
@click.argument("runs_path", metavar="RUNS", type=StoredPath())
@click.option("--output", "-o", required=True, help="law.json to write (a local path or a URI).")
@click.option("--fit", "fit", type=click.Choice(["repetition", "base", "buckets", "qqt", "mixture"]), multiple=True,
              default=("repetition",), help="What to fit (repeatable): R_D*/R_N*; E, A, B, alpha, beta (runs of at "
                                             "most one epoch); per-bucket utility and R_D*; or qqt: Goyal et al. "
                                             "2024's law next to ours (buckets or repetition) on runs at one model "
                                             "size, compared by held-out error; or mixture: a law of the loss "
                                             "over domain proportions (docs/planner.md, Mixtures).")
@click.option("--base", default="datablations",
              help="Law whose constants stay fixed: datablations, chinchilla, or a law.json.")
@click.option("--reference", default=None, help="Reference bucket (utility 1) for --fit buckets.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None, show_default="200; 100 with --fit mixture",
              help="Bootstrap draws over runs for intervals.")
@click.option("--seed", type=int, default=0, help="Seed of the bootstrap.")
@click.option("--holdout", default=None, metavar="K|NAME,...",
              help="Keep the K largest-compute runs (with --fit mixture: K runs at random, by --seed), or the named "
                   "runs, out of the fit; report their mean absolute error.")
@click.option("--target", default=None, metavar="NAME|weights.json",
              help="--fit mixture: the validation loss to predict (a key of the runs' losses), or a JSON file of "
                   "weights per validation domain (the target is their weighted sum).")
@click.option("--model", type=click.Choice(["exponential", "linear", "gbm"]), default="exponential",
              help="--fit mixture: Ye et al. 2024's exponential law, or RegMix's linear or LightGBM regression.")
@click.option("--tie-exponents", is_flag=True, help="With --fit base: fit alpha = beta (as the datablations fit).")
@click.option("--buckets", "buckets_path", type=StoredPath(), default=None,
              help="buckets.json the per-bucket runs were cut with: its definition goes into law.json, and plan "
                   "refuses buckets defined differently.")
@click.option("--classifier", type=StoredPath(), default=None,
              help="Quality classifier file whose scores defined the buckets (its sha256 goes into law.json).")
@click.option("--qqt-pools", type=click.Choice(["mean", "share"]), default="mean", show_default=True,
              help="With --fit qqt: how pools drawn together combine their exponents: mean (Goyal et al.'s "
                   "objective.py) or share (weighted by each pool's share of the run's tokens).")
@click.option("--plot", "plot_path", default=None, help="Residual plot PNG to write (a local path or a URI).")
@click.option("--json", "as_json", is_flag=True, help="Print the law.json document instead of the fit report.")
def command(runs_path: str, output: str, fit: tuple[str, ...], base: str, reference: str | None, bootstrap: int,
            seed: int, holdout: str | None, target: str | None, model: str, tie_exponents: bool,
            buckets_path: str | None, classifier: str | None, qqt_pools: str, plot_path: str | None,
            as_json: bool) -> None:
    """Fit the planner's repetition, base-law, per-bucket or mixture constants from proxy runs (any
    input format: JSONL, Parquet, CSV ...).

    Every file may be a local path or a URI (read and written with --storage-option, else the environment's options)."""
    from curate.cli.common import cli_storage, read_json
    from curate.planner.calibration import calibrate
    from curate.planner.lawfile import bucket_definition
    from curate.planner.report import format_calibration, plot_residuals, require_plotting
    from curate.planner.runs import read_runs
    from curate.store.atomic import writable

    for written in (output, plot_path):
        if written is not None:
            writable(written, cli_storage())
    if plot_path:
        require_plotting()
    if "mixture" in fit:
        from curate.cli.mixture_calibrate import calibrate_mixture_command

        if fit != ("mixture",):
            raise ConfigError("--fit mixture is fitted on its own; give it without other fits")
        unused = [name for name, given in (("--base", base != "datablations"), ("--reference", reference),
                                           ("--tie-exponents", tie_exponents), ("--buckets", buckets_path),
                                           ("--classifier", classifier)) if given]
        if unused:
            raise ConfigError(f"{', '.join(unused)}: not used by --fit mixture")
        calibrate_mixture_command(runs_path, output, target, model, holdout, seed, bootstrap, plot_path, as_json)
        return
    if target is not None or model != "exponential":
        raise ConfigError("--target and --model are options of --fit mixture")
    definition = None
    if buckets_path is not None:
        definition = bucket_definition(read_json(buckets_path, "buckets"),
                                       file_sha256(classifier) if classifier else None)
    elif classifier is not None:
        definition = {"classifier_sha256": file_sha256(classifier)}
    cal = calibrate(read_runs(runs_path, cli_storage()), fit=fit, base=base, reference=reference,
                    bootstrap=200 if bootstrap is None else bootstrap, seed=seed,
                    holdout=parse_holdout(holdout), tie_exponents=tie_exponents, bucket_definition=definition,
                    qqt_pools=qqt_pools)
    write_and_report(cal.to_dict(), output, as_json, format_calibration, plot_residuals, plot_path)


def write_and_report(doc: dict[str, Any], output: str, as_json: bool, report: Callable[[dict[str, Any]], str],
                     plot: Callable[[dict[str, Any], str], Any], plot_path: str | None) -> None:
    """Write law.json, print its report (or the document with --json), and draw the plot if asked."""
    from curate.cli.common import cli_storage, echo_json, write_plot
    from curate.store.atomic import write_json

    write_json(output, doc, cli_storage())
    if as_json:
        echo_json(doc)
    else:
        click.echo(report(doc))
    click.echo(f"wrote {output}", err=True)
    if plot_path:
        write_plot(lambda tmp: plot(doc, tmp), plot_path)
