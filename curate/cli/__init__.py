"""Command-line interface: ``curate VERB``. Each verb lives in its own module and is imported
only when used, so ``curate --help`` stays fast and a verb's heavy dependencies load lazily."""

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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="curate")
def cli() -> None:
    """curate: dedup, score, prune, plan and sample a pretraining corpus."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from curate.cli.common import run_cli

    run_cli(cli, argv if argv is not None else sys.argv[1:])
