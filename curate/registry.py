"""Registries of curate's extension points: stages, input formats, sink formats and executors.

Each is a name -> class table of one shape. Built-in classes register themselves with
:meth:`Registry.register` in the modules of one package (``curate.stages``,
``curate.io.formats``, ``curate.sinks.formats``, ``curate.executors``), which are imported on the
first lookup; classes of other packages are found through Python entry points in the groups
``curate.stages``, ``curate.input_formats``, ``curate.sink_formats`` and ``curate.executors``.
An entry point names a class (``myformat = mypkg.formats:MyFormat``) or a module whose classes
register themselves when imported. So adding one is one file: a module in the built-in package,
or one module of a separate package plus its entry point.

A class is registered under its ``name`` attribute (and any names in ``aliases``). The same name
registered twice by two different classes is an error that names both.

A built-in package may name the module of each of its classes in a ``MODULES`` table (name ->
module): :meth:`Registry.get` then imports that one module instead of the whole package and every
plugin, so a command that uses one stage does not pay for importing all of them (issue 34); a name
not in the table, and every listing, discover everything as before.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from curate.errors import ConfigError

T = TypeVar("T", bound=type)
log = logging.getLogger(__name__)


class Registry(Generic[T]):
    """Name -> class for one kind of extension point (see the module docstring)."""

    def __init__(self, kind: str, package: str, group: str) -> None:
        self.kind, self.package, self.group = kind, package, group
        self._classes: dict[str, Any] = {}
        self._discovered = False
        self._lock = threading.RLock()  # executors may run units in threads: discovery happens once
        self.broken: dict[str, str] = {}  # entry point -> why it could not be loaded

    def register(self, cls: T) -> T:
        """Class decorator: make `cls` available under ``cls.name`` (and ``cls.aliases``)."""
        name = getattr(cls, "name", "")
        if not name:
            raise TypeError(f"{cls.__qualname__} has no name")
        for key in (name, *getattr(cls, "aliases", ())):
            existing = self._classes.get(key)
            # the same class imported twice (a module run as a script, reloaded) is the same entry
            if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
                raise TypeError(f"{self.kind} name '{key}' registered twice ({_qualified(existing)}, {_qualified(cls)})")
            self._classes[key] = cls
        return cls

    def _discover(self) -> None:
        if self._discovered:
            return
        with self._lock:
            if not self._discovered:
                self._import_all()
                self._discovered = True

    def _import_all(self) -> None:
        package = importlib.import_module(self.package)
        for mod in pkgutil.walk_packages(package.__path__, prefix=f"{self.package}."):
            importlib.import_module(mod.name)
        for ep in entry_points(group=self.group):
            try:
                loaded = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop curate
                self.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                log.warning("curate: %s plugin '%s' (%s) cannot be loaded: %s", self.kind, ep.name, ep.value, exc)
                continue
            if isinstance(loaded, type):
                self.register(loaded)

    def _import_one(self, name: str) -> None:
        """Import the module the built-in package's ``MODULES`` table names for `name`, if any."""
        module = getattr(importlib.import_module(self.package), "MODULES", {}).get(name)
        if module is not None:
            importlib.import_module(module)

    def get(self, name: str) -> T:
        """The class registered as `name`; a ConfigError naming the known ones otherwise."""
        if name not in self._classes and not self._discovered:
            self._import_one(name)
        if name in self._classes:
            return self._classes[name]
        self._discover()
        try:
            return self._classes[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} '{name}' (known: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        """Every registered name (aliases included), sorted."""
        self._discover()
        return sorted(self._classes)

    def classes(self) -> list[T]:
        """Every registered class once, by name."""
        self._discover()
        seen: dict[int, Any] = {}
        for key in sorted(self._classes):
            seen.setdefault(id(self._classes[key]), self._classes[key])
        return sorted(seen.values(), key=lambda c: c.name)

    def find(self, accepts: Callable[[Any], bool]) -> T | None:
        """The first registered class (by name) that `accepts`, or None."""
        return next((c for c in self.classes() if accepts(c)), None)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
