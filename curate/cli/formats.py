"""`curate formats` and `curate executors`: the registered input and sink formats, and executors."""

from __future__ import annotations

from typing import Any

import click


def describe_formats() -> list[dict[str, Any]]:
    """One entry per format name: whether it is an input format, a sink format or both, with the
    input suffixes, the sink options and aliases, and one line of help for each role."""
    from curate.io.input_format import INPUT_FORMATS
    from curate.sinks.sink_format import SINK_FORMATS

    out: dict[str, dict[str, Any]] = {}
    for cls in INPUT_FORMATS.classes():
        out[cls.name] = {"name": cls.name, "input": True, "sink": False, "help": cls.help,
                         "suffixes": list(cls.suffixes)}
    for cls in SINK_FORMATS.classes():
        entry = out.setdefault(cls.name, {"name": cls.name, "input": False, "help": cls.help})
        entry.update(sink=True, sink_help=cls.help, aliases=list(cls.aliases), options=sorted(cls.options))
    return [out[name] for name in sorted(out)]


@click.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Print the same information as JSON on stdout.")
def formats_command(as_json: bool) -> None:
    """List every input and sink format (built-in and from plugins): name, role, one line of help."""
    from curate.cli.common import echo_json

    formats = describe_formats()
    if as_json:
        echo_json(formats)
        return
    width = max(len(f["name"]) for f in formats)
    for f in formats:
        role = ", ".join(r for r in ("input", "sink") if f[r])
        aliases = f" (also {', '.join(f['aliases'])})" if f.get("aliases") else ""
        click.echo(f"{f['name']:<{width}}  {role:<11}  {f['help']}{aliases}")


@click.command("executors")
@click.option("--json", "as_json", is_flag=True, help="Print the same information as JSON on stdout.")
def executors_command(as_json: bool) -> None:
    """List every executor (built-in and from plugins): name, whether it can run here, its options."""
    from curate.cli.common import echo_json
    from curate.executors.base import describe_executors

    executors = describe_executors()
    if as_json:
        echo_json(executors)
        return
    width = max(len(e["name"]) for e in executors)
    for e in executors:
        state = "available" if e["available"] else f"not installed ({e['install']})"
        options = "; options: " + ", ".join(f"{k} ({v})" for k, v in e["options"].items()) if e["options"] else ""
        click.echo(f"{e['name']:<{width}}  {e['help']} [{state}]{options}")
