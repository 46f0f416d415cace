"""A per-process cache scoped to one run: models, stage files and per-task state loaded once per
worker process, and dropped when a process starts work for another run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_CACHE: dict[Any, Any] = {}
_CACHE_RUN: list[str] = [""]


def begin_run(run_id: str) -> None:
    """Scope the per-process cache to one run: a new run (which may see retrained models or
    recomputed state under the same paths) starts empty. Called by the task and combine steps."""
    if _CACHE_RUN[0] != run_id:
        _CACHE.clear()
        _CACHE_RUN[0] = run_id


def cached(key: Any, loader: Callable[[], Any], slot: Any = None) -> Any:
    """The object `loader` makes for `key`, made once per process and run. With a `slot`, only
    the latest key of that slot is kept (per-task state: memory bounded by one task)."""
    if slot is not None:
        held = _CACHE.get(("slot", slot))
        if held is not None and held[0] == key:
            return held[1]
        value = loader()
        _CACHE[("slot", slot)] = (key, value)
        return value
    if key not in _CACHE:
        _CACHE[key] = loader()
    return _CACHE[key]
