"""Compile the numba kernels a run needs once, in the driver, before any worker process starts.

numba compiles a kernel on its first call and, with ``cache=True``, stores the machine code on
disk (next to the module in ``__pycache__``, or under ``NUMBA_CACHE_DIR``); a process that calls
the kernel later loads that code in milliseconds instead of compiling it. Without a warm-up, the
first run on a machine had every pool worker compile its own copy of the same kernels at once
(2 workers: twice the CPU, the machine's cores all compiling). :func:`warm_up` asks every stage
of the pipeline and every input format of the run for its kernels (``kernels()``) and, for those
numba's cache lacks, runs the owner's ``warm_up()`` on a two-row sample in the driver, so the
workers, spawned afterwards with the same environment, find the cache. The runner names no stage
and no format: each declares its own kernels.

When every kernel is cached already, nothing runs in the driver (with several workers, loading
them there too would only add start-up time). While it compiles, the run says so on its log:
``compiling numba kernels for NAMES ...`` and how long it took.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa

from curate import schema

log = logging.getLogger("curate")
_SAMPLE_TEXTS = ["Warm-up text: one line with words.\nA second line, http://example.com/x and 3 numbers.", ""]


class HasKernels(Protocol):
    name: str

    def kernels(self) -> list[Any]: ...

    def warm_up(self, sample: pa.Table) -> None: ...


def sample_table(text_type: pa.DataType) -> pa.Table:
    """A two-row input with the run's text type (a kernel compiles once per argument type)."""
    return pa.table({schema.ID: pa.array(["warmup-0", "warmup-1"]), schema.TEXT: pa.array(_SAMPLE_TEXTS, text_type)})


def is_cached(kernel: Any) -> bool:
    """Whether numba's on-disk cache holds code for this kernel's current source (any signature).

    numba has no public call for it: this reads the cache index through the dispatcher's
    ``_cache`` (the one place curate touches numba's internals); on another numba layout it says
    no, and the kernel is compiled (or loaded) in the driver."""
    try:
        return bool(kernel._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError, ValueError):
        return False


def needs_compiling(owners: Sequence[HasKernels]) -> list[HasKernels]:
    """The owners (stages, input formats) whose kernels are not all in numba's cache yet."""
    return [o for o in owners if (found := o.kernels()) and not all(is_cached(k) for k in found)]


def warm_up(owners: Sequence[HasKernels], text_type: pa.DataType) -> float:
    """Compile (or load) the kernels of `owners` that numba's cache lacks; returns seconds spent."""
    pending = needs_compiling(owners)
    if not pending:
        return 0.0
    names = ", ".join(dict.fromkeys(o.name for o in pending))
    log.info("compiling numba kernels for %s (once per machine; later runs load them from numba's cache) ...",
             names)
    t0 = time.perf_counter()
    sample = sample_table(text_type)
    for owner in pending:
        owner.warm_up(sample)
    seconds = time.perf_counter() - t0
    log.info("numba kernels compiled in %.1f s", seconds)
    return seconds
