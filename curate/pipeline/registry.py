"""Stage registry: maps the names used in pipeline YAML to stage classes.

Built-in stages register themselves with :func:`register` in their modules under
``curate.stages``; those modules are imported on the first lookup (they keep heavy imports
such as fastText inside functions, so discovery stays cheap). A YAML ``stage:`` may also be a
``module:ClassName`` import path, so users can plug in their own stages without registering.
"""

from __future__ import annotations

import importlib
import pkgutil

from curate.errors import ConfigError
from curate.pipeline.stage import Stage

_REGISTRY: dict[str, type[Stage]] = {}
_DISCOVERED = False


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} has no name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"stage name '{cls.name}' registered twice ({existing.__qualname__}, {cls.__qualname__})")
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    import curate.stages as stages_pkg

    for mod in pkgutil.walk_packages(stages_pkg.__path__, prefix="curate.stages."):
        importlib.import_module(mod.name)
    _DISCOVERED = True


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
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown stage '{name}' (known: {', '.join(sorted(_REGISTRY))})") from None


def stage_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def stage_classes() -> list[type[Stage]]:
    """Every registered stage class, by name."""
    _discover()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]
