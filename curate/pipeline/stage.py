"""The two stage shapes.

A *map stage* is pure: ``process(table, ctx) -> table``. A *global stage* needs the whole
corpus and is split in three steps so that it distributes:
``summarize(table, ctx) -> partial`` per batch of each task, ``combine(ctx)`` once (it reads
the partial files and writes its state files, and may fan out with ``ctx.map``), and
``apply(table, ctx) -> table`` per batch of each task, reading the state written by combine.

A stage rejects rows by returning them with a non-null ``reject_reason`` column (see
:func:`reject_rows`); the runner routes those rows to the ``rejected`` output and counts them
by reason. Stages never drop rows silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from curate import schema
from curate.errors import ConfigError

_REQUIRED = object()
_PROCESS_CACHE: dict[tuple[str, str, str, str], Any] = {}
_CACHE_RUN: list[str] = [""]


def begin_run(run_id: str) -> None:
    """Scope the per-process stage cache to one run: a new run (which may see retrained models
    or recomputed state under the same paths) starts with an empty cache. Called by the runner."""
    if _CACHE_RUN[0] != run_id:
        _PROCESS_CACHE.clear()
        _CACHE_RUN[0] = run_id


@dataclass(frozen=True)
class Param:
    """Declaration of one stage parameter: type, default, allowed range and help text."""

    type: type | tuple[type, ...]
    default: Any = _REQUIRED
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def check(self, stage: str, name: str, value: Any) -> Any:
        """Return `value` coerced to the declared type, or raise ConfigError naming stage and parameter."""
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"stage '{stage}': parameter '{name}' must not be null")
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(f"stage '{stage}': parameter '{name}' expects {_type_names(types)}, got a boolean")
        if not isinstance(value, types):
            raise ConfigError(
                f"stage '{stage}': parameter '{name}' expects {_type_names(types)}, got {type(value).__name__} {value!r}"
            )
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"stage '{stage}': parameter '{name}' must be one of {list(self.choices)}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and math.isnan(value):
                raise ConfigError(f"stage '{stage}': parameter '{name}' must be a number, got NaN")
            if self.min is not None and value < self.min:
                raise ConfigError(f"stage '{stage}': parameter '{name}' must be >= {self.min}, got {value}")
            if self.max is not None and value > self.max:
                raise ConfigError(f"stage '{stage}': parameter '{name}' must be <= {self.max}, got {value}")
        return value


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


@dataclass
class TaskContext:
    """What a stage may know about the task it runs in."""

    task_index: int
    n_tasks: int
    source: str
    seed: int
    work_dir: Path
    output_dir: Path
    counters: dict[str, float] = field(default_factory=dict)
    batch_index: int = 0
    row_offset: int = 0  # index, within the task, of the first row of the current batch
    # For a global stage's apply: every task's input file of that pass (rows kept before it), in
    # task order, so a reshaping stage (the sampler) can gather rows from any task.
    input_paths: list[Path] = field(default_factory=list)

    def count(self, key: str, value: float = 1) -> None:
        """Add `value` to a named counter; counters are summed over tasks into ``_stats.json``."""
        self.counters[key] = self.counters.get(key, 0) + value

    @property
    def state_dir(self) -> Path:
        """Where this global stage's combine step wrote its state."""
        return self.work_dir / "state"


@dataclass
class CombineContext:
    """What a global stage's combine step gets: the partial files and a way to fan out."""

    partials: list[Path]  # one Parquet file per task (possibly zero rows), in task order
    n_tasks: int
    seed: int
    work_dir: Path
    output_dir: Path
    workers: int
    map: Callable[[Callable[..., Any], Sequence[Any]], list[Any]]
    log: Callable[[str], None] = print
    summary: dict[str, Any] = field(default_factory=dict)
    # Every task's input file of the stage's apply pass (the rows summarize saw), in task order:
    # lets a combine step spread rows once, in parallel (the sampler's scatter).
    input_paths: list[Path] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.work_dir / "state"


class Stage:
    """Base of every stage: parameter declaration, validation and picklable state.

    Subclasses set ``name`` (the registry name), ``params`` and ``requires`` (input columns),
    and may override :meth:`check` for validation that needs the file system (model paths).
    Attributes whose names start with ``_cache`` are dropped when a stage is pickled to a worker,
    so loaded models are loaded lazily once per process (see :meth:`cached`).
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    requires: ClassVar[tuple[str, ...]] = (schema.ID, schema.TEXT)
    is_global: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise ConfigError(f"stage '{self.name}': unknown parameter(s) {', '.join(unknown)} (known: {known})")
        self.config: dict[str, Any] = {}
        for pname, spec in self.params.items():
            if pname in kwargs:
                self.config[pname] = spec.check(self.name, pname, kwargs[pname])
            elif spec.required:
                raise ConfigError(f"stage '{self.name}': missing required parameter '{pname}'")
            else:
                self.config[pname] = spec.default
        self.validate()

    def validate(self) -> None:
        """Cross-parameter checks that need no I/O; raise ConfigError. Override as needed."""

    def check(self) -> None:
        """Checks that need the file system (e.g. a model file exists); run before any work."""

    def __getattr__(self, item: str) -> Any:
        config = self.__dict__.get("config")
        if config is not None and item in config:
            return config[item]
        raise AttributeError(item)

    def cached(self, key: str, loader: Callable[[], Any]) -> Any:
        """Return a per-process cached object (e.g. a loaded model), loading it on first use.

        The cache belongs to the worker process, keyed by stage class, `key` and parameters, and
        lives for one run (see :func:`begin_run`), so the fresh copy of a stage that each task
        unpickles reuses what an earlier task of the same run loaded.
        """
        cache_key = (type(self).__module__, type(self).__qualname__, key,
                     json.dumps(self.config, sort_keys=True, default=str))
        if cache_key not in _PROCESS_CACHE:
            _PROCESS_CACHE[cache_key] = loader()
        return _PROCESS_CACHE[cache_key]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cache")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def describe(self) -> dict[str, Any]:
        """Config as plain data, for the run fingerprint and logs."""
        return {"stage": self.name, "params": dict(self.config)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


class MapStage(Stage):
    """A pure batch -> batch transform; consecutive map stages are fused into one pass."""

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        raise NotImplementedError


class GlobalStage(Stage):
    """A stage that needs the whole corpus: summarize per batch, combine once, apply per batch.

    A *reshaping* global stage (``reshapes = True``, e.g. the sampler) does not map its task's
    rows: the runner calls ``apply_task(ctx)`` instead of ``apply``, and output shard i is whatever
    it yields for task i (gathered from ``ctx.input_paths``). Its accounting is checked by the stage.
    """

    is_global = True
    reshapes: ClassVar[bool] = False

    def apply_task(self, ctx: TaskContext) -> Iterable[pa.Table]:
        """For reshaping stages: yield the rows of output shard ``ctx.task_index``."""
        raise NotImplementedError

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table | None:
        """Return this batch's partial (a table written under ``_work/``), or None."""
        raise NotImplementedError

    def combine(self, ctx: CombineContext) -> None:
        """Read ``ctx.partials``, write state files under ``ctx.state_dir``; put a summary in ``ctx.summary``."""
        raise NotImplementedError

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        """Use the combined state (read from ``ctx.state_dir``) to annotate, reject or reorder rows."""
        raise NotImplementedError


def reject_rows(table: pa.Table, mask: pa.Array | Iterable[bool], reason: str | pa.Array) -> pa.Table:
    """Mark rows where `mask` is true as rejected with `reason` (a string or one reason per row).

    Rows already rejected keep their first reason.
    """
    import pyarrow.compute as pc

    mask = pa.array(mask, type=pa.bool_()) if not isinstance(mask, (pa.Array, pa.ChunkedArray)) else mask
    mask = pc.fill_null(mask, False)
    if isinstance(reason, str):
        reason_arr = pa.scalar(reason, pa.string())
    else:
        reason_arr = reason
    new = pc.if_else(mask, reason_arr, pa.scalar(None, pa.string()))
    if schema.REJECT_REASON in table.column_names:
        old = table.column(schema.REJECT_REASON)
        new = pc.coalesce(old, new)
        idx = table.column_names.index(schema.REJECT_REASON)
        return table.set_column(idx, schema.REJECT_REASON, new)
    return table.append_column(schema.REJECT_REASON, new)


def set_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Add column `name`, or replace it if it exists (stages re-run on their own output)."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)
