"""Executors run a graph's units of work; they know nothing of a stage's insides."""

from __future__ import annotations

from curate.errors import ConfigError
from curate.pipeline.executor import Executor

EXECUTORS = ("local", "ray")


def make_executor(name: str, workers: int | None = None, ray_address: str | None = None) -> Executor:
    """Create the executor called `name` with `workers` parallel workers (default: cores)."""
    if name == "local":
        from curate.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if name == "ray":
        from curate.executors.ray import RayExecutor

        return RayExecutor(workers, address=ray_address)
    raise ConfigError(f"unknown executor '{name}' (known: {', '.join(EXECUTORS)})")
