"""Command-line interface: ``curate VERB``. Each verb lives in its own module and is imported
only when used, so ``curate --help`` stays fast and a verb's heavy dependencies load lazily:
``curate --help`` lists the verbs from :data:`SUMMARIES` without importing any of them
(tests/cli/test_cli.py checks each summary against its command's own help)."""

from __future__ import annotations

import importlib
import sys

import click

from curate import __version__

# verb -> "module:attribute" of its click.Command
VERBS: dict[str, str] = {
    "run": "curate.cli.run:command",
    "dedup": "curate.cli.dedup:command",
    "train-classifier": "curate.cli.classify:train_command",
    "classify": "curate.cli.classify:classify_command",
    "plan": "curate.cli.plan:command",
    "calibrate": "curate.cli.calibrate:command",
    "predict": "curate.cli.predict:command",
    "mixtures": "curate.cli.mixtures:command",
    "sample": "curate.cli.sample:command",
    "stats": "curate.cli.stats:command",
    "report": "curate.cli.report:command",
    "stages": "curate.cli.stages:command",
    "formats": "curate.cli.formats:formats_command",
    "executors": "curate.cli.formats:executors_command",
    "sample-data": "curate.cli.sample_data:command",
}

# verb -> the first sentence of its command's help, what `curate --help` lists (click would import
# every verb's module, and with it pyarrow, numba and scipy, to read them)
SUMMARIES: dict[str, str] = {
    "run": "Run the PIPELINE YAML over --input into --output.",
    "dedup": "Remove near-duplicate documents (MinHash LSH over word n-grams) from --input into --output.",
    "train-classifier": "Train a supervised fastText classifier on --input's --label-column and write --output.",
    "classify": "Score every document of --input with a fastText model into --output.",
    "plan": "Plan how many epochs of each quality bucket to train on, and how large a model, for a compute "
            "budget; with a mixture law, how much of each domain too.",
    "calibrate": "Fit the planner's repetition, base-law, per-bucket or mixture constants from proxy runs (any "
                 "input format: JSONL, Parquet, CSV ...).",
    "predict": "Predict the loss of every run of RUNS (JSON Lines, Parquet or CSV) under LAW (a law.json, or "
               "datablations / chinchilla), in input order.",
    "mixtures": "Draw proxy-run mixtures as RegMix does: Dirichlet draws around the natural distribution of tokens "
                "over domains, bounded, sparse at low strength.",
    "sample": "Materialize --plan over --input (documents with quality_bucket and n_tokens) into --output.",
    "stats": "Show the per-stage summary of the run in DIRECTORY (a local path or a URI), or how far an "
             "unfinished run got.",
    "report": "Write an HTML report of the finished run in OUTPUT (a local path or a URI): the graph with its "
              "counts, what each reason removed, the quality signals against their cut-offs, example rejected "
              "documents, duplicate clusters and the plan.",
    "stages": "List every registered stage with its kind and one line, or show stage NAME in full: its parameters "
              "(type, default, bounds, help) and the columns it reads and adds.",
    "formats": "List every input and sink format (built-in and from plugins): name, role, one line of help.",
    "executors": "List every executor (built-in and from plugins): name, whether it can run here, its options.",
    "sample-data": "Write a web-like corpus with planted duplicates, quality tiers, domains and ground-truth "
                   "columns.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = VERBS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The verbs and their summaries, as click lists them, without importing the verbs."""
        limit = formatter.width - 6 - max(len(verb) for verb in VERBS)
        rows = [(verb, click.utils.make_default_short_help(SUMMARIES[verb], limit)) for verb in sorted(VERBS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="curate")
def cli() -> None:
    """curate: dedup, score, prune, plan and sample a pretraining corpus."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from curate.cli.common import run_cli
    from curate.lean_imports import answer_pandas_probe

    answer_pandas_probe()
    run_cli(cli, argv if argv is not None else sys.argv[1:])
