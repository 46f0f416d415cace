"""The stage registry: the names used in pipeline YAML -> stage classes.

Built-in stages register themselves with :func:`register` in their modules under
``curate.stages`` (imported on the first lookup; they keep heavy imports such as fastText inside
functions, so discovery stays cheap); other packages add stages through the ``curate.stages``
entry-point group (see :mod:`curate.registry`). A YAML ``stage:`` may also be a
``module:ClassName`` import path, so a stage can be used without registering it.
"""

from __future__ import annotations

import importlib

from curate.errors import ConfigError
from curate.pipeline.stage import Stage
from curate.registry import Registry

STAGES: Registry[type[Stage]] = Registry("stage", "curate.stages", "curate.stages")
register = STAGES.register


def get_stage_class(name: str) -> type[Stage]:
    """Look up a stage class by registry name or ``module:Class`` path; ConfigError if unknown."""
    if ":" in name:
        module_name, _, cls_name = name.partition(":")
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, cls_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import stage '{name}': {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Stage)):
            raise ConfigError(f"'{name}' is not a curate Stage class")
        return cls
    return STAGES.get(name)


def stage_names() -> list[str]:
    return STAGES.names()


def stage_classes() -> list[type[Stage]]:
    """Every registered stage class, by name."""
    return STAGES.classes()
