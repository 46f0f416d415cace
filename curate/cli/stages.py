"""`curate stages [NAME]`: the registered stages, or one stage's parameters and columns."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("stages")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the same information as JSON on stdout.")
def command(name: str | None, as_json: bool) -> None:
    """List every registered stage with its kind and one line, or show stage NAME in full:
    its parameters (type, default, bounds, help) and the columns it reads and adds."""
    from curate.cli.common import echo_json
    from curate.pipeline.catalog import describe_stage, list_stages

    if name is None:
        stages = list_stages()
        if as_json:
            echo_json(stages)
            return
        width = max(len(s["name"]) for s in stages)
        kind_width = max(len(s["kind"]) for s in stages)
        for s in stages:
            click.echo(f"{s['name']:<{width}}  {s['kind']:<{kind_width}}  {s['summary']}")
        return
    info = describe_stage(name)
    if as_json:
        echo_json(info)
        return
    click.echo(format_stage(info))


def _value(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else repr(v)


def format_stage(info: dict[str, Any]) -> str:
    """One stage's description as text for the terminal."""
    lines = [f"{info['name']} ({info['kind']} stage): {info['summary']}", ""]
    if info["params"]:
        lines.append("parameters:")
        for p in info["params"]:
            default = "required" if p["required"] else f"default {_value(p['default'])}"
            bounds = [f"{k} {_value(p[k])}" for k in ("min", "max", "choices") if k in p]
            lines.append(f"  {p['name']}: {p['type']}, {', '.join([default, *bounds])}")
            if p["help"]:
                lines.append(f"      {p['help']}")
    else:
        lines.append("parameters: none")
    for key, verb in (("requires", "reads"), ("produces", "adds")):
        cols = info[key]
        text = ", ".join(cols) if cols else "none" if cols is not None else "not declared"
        if key in info["columns_from_params"]:
            text = f"{text}, and those its parameters name" if cols else "those its parameters name"
        lines.append(f"{verb} columns: {text}")
    return "\n".join(lines)
