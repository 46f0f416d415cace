"""The stage kinds.

A *map stage* is pure: ``process(table, ctx) -> table``. A *global stage* needs the whole
corpus and is split in three steps so that it distributes:
``summarize(table, ctx) -> partial`` per batch of each task, ``combine(ctx)`` once (it reads
the partials and writes its state through the work store, and may fan out with ``ctx.map``),
and ``apply(table, ctx) -> table`` per batch of each task, reading that state. A *reshaping*
stage is a global stage whose output is not a subset of its input (the sampler). Each kind owns
its accounting rule (:meth:`Stage.check_accounting`), so the runner names no stage.

A stage rejects rows by returning them with a non-null ``reject_reason`` column (see
:func:`reject_rows`); the runner routes those rows to the ``rejected`` output and counts them
by reason. Stages never drop rows silently.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from curate import schema
from curate.errors import AccountingError, ConfigError
from curate.store import cache
from curate.store.layout import relative_name
from curate.store.storage import Storage

if TYPE_CHECKING:
    from curate.pipeline.stats import StageStats
    from curate.store.state import StageStore

_REQUIRED = object()


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
    path: bool = False  # a file's location: a relative local path is made absolute where the pipeline is built
    output_file: bool = False  # a file's name under the node's OUTPUT/_meta/<node>/: it must stay there


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
        if self.output_file and isinstance(value, str):
            relative_name(value, f"stage '{stage}': parameter '{name}'")
        if self.path and isinstance(value, str):
            # workers (Ray on other nodes) do not run in the driver's directory; a bad URI fails here
            from curate.store.storage import parse

            try:
                value = parse(value).uri
            except ConfigError as exc:
                raise ConfigError(f"stage '{stage}': parameter '{name}': {exc}") from None
        return value


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


@dataclass
class TaskContext:
    """What a stage may know about the task it runs in.

    ``store`` is the node's corner of the work store (None when a stage runs on its own, as in
    unit tests and benchmarks): a global stage's apply reads its combine's state from it, and a
    reshaping stage reads any task's input rows with :meth:`read_input`.
    """

    task_index: int
    n_tasks: int
    source: str
    seed: int
    store: StageStore | None = None
    counters: dict[str, float] = field(default_factory=dict)
    row_offset: int = 0  # index, within the task, of the first row of the current batch

    @property
    def storage(self) -> Storage:
        """How the run opens stage files (models, word lists, plans): the run's storage options;
        the environment's when the stage runs on its own."""
        return self.store.storage if self.store is not None else Storage()

    def count(self, key: str, value: float = 1) -> None:
        """Add `value` to a named counter; counters are summed over tasks into ``_curate/stats.json``."""
        self.counters[key] = self.counters.get(key, 0) + value

    def read_input(self, task: int) -> pa.Table:
        """Every row task `task` brings into this pass (for reshaping stages)."""
        assert self.store is not None, "read_input needs a run"
        return self.store.read_input(task)


def warm_up_context() -> TaskContext:
    """The context a stage's :meth:`Stage.warm_up` runs its kernels in (no run, one task)."""
    return TaskContext(task_index=0, n_tasks=1, source="kernel warm-up", seed=0)


@dataclass
class CombineContext:
    """What a global stage's combine step gets: the partials, its store and a way to fan out."""

    n_tasks: int
    seed: int
    workers: int
    map: Callable[[Callable[..., Any], Sequence[Any]], list[Any]]
    store: StageStore
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("curate"))
    summary: dict[str, Any] = field(default_factory=dict)
    _partials: list[Path] | None = None

    @property
    def partials(self) -> list[Path]:
        """One local Parquet file per task (possibly zero rows), in task order, for DuckDB or
        pyarrow to read in the combine itself. They are files of the driver's node: a ``map`` job
        may run on another node, so give it the store and ``store.partial(task)`` instead."""
        if self._partials is None:
            self._partials = self.store.local_files([self.store.partial(t) for t in range(self.n_tasks)])
        return self._partials

    def duckdb(self, memory_mb: int | None = None) -> Any:
        """A memory-capped DuckDB connection spilling to the node's scratch, one thread per worker."""
        return self.store.duckdb(memory_mb, threads=self.workers)


class Stage:
    """Base of every stage: parameter declaration, validation, declared columns, picklable state.

    Subclasses set ``name`` (the registry name), ``params``, ``requires`` (input columns it
    reads) and ``produces`` (columns it adds; None means undeclared, as for a custom stage that
    says nothing), ``optional`` (columns it reads only when present, such as an upstream
    dup_count), and may override :meth:`check` for validation that needs the file system
    (model paths). When the columns depend on parameters, override :meth:`required_columns` /
    :meth:`produced_columns`. Attributes whose names start with ``_cache`` are dropped when a
    stage is pickled to a worker, so loaded models are loaded lazily once per process.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    requires: ClassVar[tuple[str, ...]] = (schema.ID, schema.TEXT)
    produces: ClassVar[tuple[str, ...] | None] = None
    optional: ClassVar[tuple[str, ...]] = ()

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

    def check(self, storage: Storage) -> None:
        """Checks that need the file system (e.g. a model file exists, opened with the run's
        `storage`); run before any work."""

    def required_columns(self) -> tuple[str, ...]:
        """Columns this stage reads, which an earlier stage or the input must provide."""
        return tuple(self.requires)

    def produced_columns(self) -> tuple[str, ...] | None:
        """Columns this stage adds to its kept rows (None: not declared)."""
        return None if self.produces is None else tuple(self.produces)

    def read_columns(self) -> tuple[str, ...] | None:
        """Every column this stage may read: those it requires, those it reads when present and
        those it produces (it may update one an earlier stage made); None when it does not declare
        what it produces (then it may read anything). A pass that reads a kept stream back reads
        only these (curate.pipeline.streams)."""
        produced = self.produced_columns()
        if produced is None:
            return None
        return tuple(dict.fromkeys((*self.required_columns(), *self.optional, *produced)))

    def check_upstream(self, upstream: list[Stage]) -> None:
        """Checks against the stages upstream of this one (nearest first), before any work; raise
        ConfigError. Override as needed (the sampler needs a bucket stage upstream)."""

    def output_columns(self, available: set[str]) -> set[str] | None:
        """The columns of this stage's output given those of its input (None: unknown)."""
        produced = self.produced_columns()
        return None if produced is None else available | set(produced)

    def output_names(self) -> tuple[str, ...]:
        """Named outputs (a route's); empty for a stage whose kept rows are its one output. A stage
        with named outputs puts each kept row's output name in column ``schema.ROUTE``."""
        return ()

    def kernels(self) -> list[Any]:
        """The numba kernels this stage calls. A run compiles those numba's cache lacks once, in
        the driver, before the workers start (curate.kernels), through :meth:`warm_up`."""
        return []

    def warm_up(self, sample: pa.Table) -> None:
        """Call the stage's kernels on `sample` (two rows, the run's text type) so that numba
        compiles them; stages that declare :meth:`kernels` implement it."""

    def dependency_files(self, storage: Storage) -> list[str]:
        """Files this stage reads besides the data (models, tokenizers, plans), found with the
        run's `storage`: their content is part of the resume fingerprint, so a resumed run
        refuses when one changed."""
        return []

    @classmethod
    def can_make(cls, column: str) -> bool:
        """Whether some configuration of this stage makes `column` (for error hints)."""
        return column in (cls.produces or ())

    def check_accounting(self, st: StageStats) -> None:
        """The kind's accounting rule over the whole run: docs in = kept + rejected + errored."""
        st.check()

    def __getattr__(self, item: str) -> Any:
        config = self.__dict__.get("config")
        if config is not None and item in config:
            return config[item]
        raise AttributeError(item)

    def cached(self, key: str, loader: Callable[[], Any]) -> Any:
        """Return a per-process cached object (e.g. a loaded model), loading it on first use.

        The cache belongs to the worker process, keyed by stage class, `key` and parameters, and
        lives for one run, so the fresh copy of a stage that each task unpickles reuses what an
        earlier task of the same run loaded.
        """
        return cache.cached((type(self).__module__, type(self).__qualname__, key,
                                 json.dumps(self.config, sort_keys=True, default=str)), loader)

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
    """A pure batch -> batch transform; consecutive map stages are fused into one pass.

    Accounting: per batch, rows out (kept + rejected) = rows in; stages mark rows with a
    reject_reason and never drop them.
    """

    kind = "map"

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        raise NotImplementedError


class GlobalStage(Stage):
    """A stage that needs the whole corpus: summarize per batch, combine once, apply per batch.

    Accounting: as a map stage, per batch of its apply step.
    """

    kind = "global"

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table | None:
        """Return this batch's partial (a table kept in the work store), or None."""
        raise NotImplementedError

    def combine(self, ctx: CombineContext) -> None:
        """Read ``ctx.partials``, write state through ``ctx.store``; put a summary in ``ctx.summary``."""
        raise NotImplementedError

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        """Use the combined state (read from ``ctx.store``) to annotate or reject rows, keeping
        their order (a stage that reorders or copies rows is a :class:`ReshapingStage`)."""
        raise NotImplementedError


class ReshapingStage(GlobalStage):
    """A global stage whose output rows are not a subset of its input (the sampler writes some
    documents several times, gathered from any task).

    Instead of mapping batches, :meth:`apply_task` yields output shard i for task i, plus, marked
    with a reject_reason, the task's own input rows it does not use. Accounting over the run:
    docs in = documents used + rejected + errored, where combine reports the documents used as
    ``summary[used_key]``; rows written (copies included) are docs_out.
    """

    kind = "reshaping"
    used_key: ClassVar[str] = "docs_used"

    def apply_task(self, ctx: TaskContext) -> Iterable[pa.Table]:
        """Yield the rows of output shard ``ctx.task_index`` (and this task's unused rows, rejected)."""
        raise NotImplementedError

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        raise TypeError(f"stage '{self.name}' reshapes its input: the runner calls apply_task")

    def check_accounting(self, st: StageStats) -> None:
        used = st.summary.get(self.used_key)
        if used is None:
            raise AccountingError(f"stage '{st.stage}': its combine did not report '{self.used_key}'")
        if st.docs_in != used + st.rejected_total + st.errored:
            raise AccountingError(f"stage '{st.stage}': docs in {st.docs_in} != documents written {used} + "
                                  f"rejected {st.rejected_total} + errored {st.errored}")


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
