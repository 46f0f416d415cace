"""What the registry knows about each stage, as plain data: kind, one-line summary, parameters
(type, default, bounds, help) and declared columns. ``curate stages`` prints it, so the listing
is read from the stage classes themselves and cannot drift from the code."""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

from curate.pipeline.registry import get_stage_class, stage_names
from curate.pipeline.stage import Param, Stage


def stage_kind(cls: type[Stage]) -> str:
    """``map``, ``global`` or ``reshaping`` (a global stage whose output is not a subset of its input)."""
    return cls.kind


def stage_summary(cls: type[Stage]) -> str:
    """First paragraph of the class docstring (if the class has its own), else of its module's
    docstring, on one line, without the conventional ``name:`` prefix and reST backquotes."""
    doc = cls.__dict__.get("__doc__") or getattr(sys.modules.get(cls.__module__), "__doc__", None) or ""
    paragraph = re.sub(r"\s+", " ", inspect.cleandoc(doc).split("\n\n", 1)[0]).strip()
    prefix = f"{cls.name}:"
    if paragraph.startswith(prefix):
        paragraph = paragraph[len(prefix):].strip()
    return paragraph.replace("``", "")


def _type_name(spec: Param) -> str:
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    name = " | ".join(t.__name__ for t in types)
    return f"{name} | null" if spec.nullable else name


def describe_param(name: str, spec: Param) -> dict[str, Any]:
    """One parameter as plain data (``default`` is absent when the parameter is required)."""
    out: dict[str, Any] = {"name": name, "type": _type_name(spec), "required": spec.required}
    if not spec.required:
        out["default"] = spec.default
    for key in ("min", "max", "choices"):
        value = getattr(spec, key)
        if value is not None:
            out[key] = list(value) if key == "choices" else value
    out["help"] = spec.help
    return out


def _declared(cls: type[Stage], attr: str) -> list[str] | None:
    """A class's declared columns, or None when it does not declare them."""
    value = getattr(cls, attr, None)
    return None if value is None else list(value)


def describe_stage(name: str) -> dict[str, Any]:
    """Everything ``curate stages NAME`` prints about one stage (ConfigError if unknown)."""
    cls = get_stage_class(name)
    return {
        "name": cls.name or name,
        "kind": stage_kind(cls),
        "summary": stage_summary(cls),
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "params": [describe_param(p, spec) for p, spec in cls.params.items()],
        "requires": _declared(cls, "requires"),
        "produces": _declared(cls, "produces"),
        # columns that follow from parameters (score_column, tokens_column, a classify column, ...)
        "columns_from_params": [key for key, method in (("requires", "required_columns"),
                                                        ("produces", "produced_columns"))
                                if getattr(cls, method) is not getattr(Stage, method)],
    }


def list_stages() -> list[dict[str, str]]:
    """Every registered stage: name, kind and one-line summary, by name."""
    out = []
    for name in stage_names():
        cls = get_stage_class(name)
        out.append({"name": name, "kind": stage_kind(cls), "summary": stage_summary(cls)})
    return out
