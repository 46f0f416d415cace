"""`curate report OUTPUT`: write the HTML report of a finished run and print where it went."""

from __future__ import annotations

import click

from curate.cli.common import storage_option
from curate.run_report import EXAMPLES, MAX_ROWS


@click.command("report")
@storage_option
@click.argument("output")
@click.option("--output", "file", default=None, metavar="FILE",
              help="Write the page to FILE (a path or a URI) instead of the run's own report.html.")
@click.option("--max-rows", type=click.IntRange(min=1), default=MAX_ROWS,
              help="Documents sampled for the histograms (the totals per reason read every row).")
@click.option("--examples", type=click.IntRange(min=0), default=EXAMPLES, help="Example documents shown per reason.")
@click.option("--json", "as_json", is_flag=True, help='Print {"report": PATH} instead of the path.')
def command(output: str, file: str | None, max_rows: int, examples: int, as_json: bool) -> None:
    """Write an HTML report of the finished run in OUTPUT (a local path or a URI): the graph with
    its counts, what each reason removed, the quality signals against their cut-offs, example
    rejected documents, duplicate clusters and the plan. Prints the page's path."""
    from curate.cli.common import cli_storage, echo_json
    from curate.run_report.build import write_report

    path = write_report(output, file, cli_storage(), max_rows=max_rows, examples=examples)
    if as_json:
        echo_json({"report": path})
    else:
        click.echo(path)
