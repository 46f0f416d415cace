"""What the runner needs from an executor: run a function over items, yielding results as they
complete. Executors (curate.executors) run units of work and nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from curate.pipeline.faults import checkpoint


class Executor:
    workers: int = 1

    @property
    def in_process(self) -> bool:
        """Whether every unit of work runs in this process (so it sees this process's memory)."""
        return False

    def imap(self, fn: Callable[..., Any], items: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        """Yield (args, fn(*args)) for every args tuple, in completion order."""
        raise NotImplementedError

    def map(self, fn: Callable[..., Any], items: list[Any]) -> list[Any]:
        """Ordered map of a one-argument function (for a combine step's fan-out)."""
        results: dict[int, Any] = {}
        for args, result in self.imap(_indexed_call, [(fn, i, x) for i, x in enumerate(items)]):
            results[args[1]] = result
            checkpoint("combine_map")
        return [results[i] for i in range(len(items))]

    def close(self) -> None:
        pass


def _indexed_call(fn: Callable[[Any], Any], index: int, item: Any) -> Any:
    return fn(item)
