"""The executor protocol and its registry: executors run a function over items and yield the
results as they complete; they know nothing of graphs or stages.

Built-in executors are the modules of :mod:`curate.executors` (``local``, ``ray``); another
package adds one with a class deriving :class:`Executor` and an entry point in the
``curate.executors`` group (see :mod:`curate.registry`). An executor is built from a worker
count and its own options (``--executor-option KEY=VALUE``, declared in ``options``); one whose
library is missing says so through :meth:`Executor.available` and is still listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from curate.errors import ConfigError
from curate.faults import checkpoint
from curate.registry import Registry


class Executor:
    """Runs units of work. Subclasses set ``name``, ``help``, ``options`` (option -> help) and
    ``extra`` (the pip extra that installs what they need), take ``(workers, **options)`` in
    their constructor, and implement :meth:`imap`."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    options: ClassVar[dict[str, str]] = {}
    extra: ClassVar[str | None] = None
    workers: int = 1

    @classmethod
    def available(cls) -> bool:
        """Whether what the executor needs is installed (it is listed either way)."""
        return True

    @property
    def in_process(self) -> bool:
        """Whether every unit of work runs in this process (so it sees this process's memory)."""
        return False

    def imap(self, fn: Callable[..., Any], items: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        """Yield (args, fn(*args)) for every args tuple, in completion order."""
        raise NotImplementedError

    def map(self, fn: Callable[..., Any], items: list[Any], point: str = "combine_map") -> list[Any]:
        """Ordered map of a one-argument function (a combine step's fan-out; the run's reading of
        its input files' schemas and hashes). `point` names the fault-injection checkpoint each
        result passes (curate.faults)."""
        results: dict[int, Any] = {}
        for args, result in self.imap(_indexed_call, [(fn, i, x) for i, x in enumerate(items)]):
            results[args[1]] = result
            checkpoint(point)
        return [results[i] for i in range(len(items))]

    def close(self) -> None:
        pass


def _indexed_call(fn: Callable[[Any], Any], index: int, item: Any) -> Any:
    return fn(item)


EXECUTORS: Registry[type[Executor]] = Registry("executor", "curate.executors", "curate.executors")
register = EXECUTORS.register


def make_executor(name: str, workers: int | None = None, options: dict[str, Any] | None = None) -> Executor:
    """The executor `name` with `workers` parallel workers (default: its own) and its `options`;
    an unknown name or option, or a missing extra, is a ConfigError naming what to do."""
    cls = EXECUTORS.get(name)
    options = dict(options or {})
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        known = ", ".join(cls.options) or "none"
        raise ConfigError(f"executor '{name}' has no option {', '.join(unknown)} (its options: {known})")
    if not cls.available():
        raise ConfigError(f"the {name} executor is not installed: pip install 'curate[{cls.extra}]'")
    return cls(workers, **options)


def describe_executors() -> list[dict[str, Any]]:
    """Every registered executor: name, one line of help, its options, whether it can run here."""
    return [{"name": cls.name, "help": cls.help, "options": dict(cls.options), "available": cls.available(),
             **({"install": f"pip install 'curate[{cls.extra}]'"} if cls.extra and not cls.available() else {})}
            for cls in EXECUTORS.classes()]
