"""Compile the numba kernels a run needs once, in the driver, before any worker process starts.

numba compiles a kernel on its first call and, with ``cache=True``, stores the machine code on
disk (next to the module in ``__pycache__``, or under ``NUMBA_CACHE_DIR``); a process that calls
the kernel later loads that code in milliseconds instead of compiling it. Without a warm-up, the
first run on a machine had every pool worker compile its own copy of the same kernels at once
(2 workers: twice the CPU, the machine's cores all compiling). :func:`warm_up` runs the kernels of
the pipeline's stages on a two-row table in the driver first, so the workers, spawned afterwards
with the same environment, find the cache.

Only the kernels of the stages in the pipeline (and of the JSONL reader, when an input file is
JSONL) are compiled. When every one of them is cached already, nothing runs in the driver (with
several workers, loading them there too would only add start-up time). While it compiles, the
run says so on its log: ``compiling numba kernels ...`` and how long it took.

Kernels not covered here (the domain hashes of url_filter and pii, the model-file check) still
compile lazily on first use in whichever process needs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from curate import schema
from curate.pipeline.stage import Stage, TaskContext

_SAMPLE_TEXTS = ["Warm-up text: one line with words.\nA second line, http://example.com/x and 3 numbers.", ""]
_HEURISTICS = {"heuristics", "gopher_quality", "gopher_repetition", "c4", "fineweb", "c4_clean"}


def _sample(text_type: pa.DataType) -> tuple[pa.Table, TaskContext]:
    """A two-row input with the run's text type (a kernel compiles once per argument type)."""
    table = pa.table({schema.ID: pa.array(["warmup-0", "warmup-1"]),
                      schema.TEXT: pa.array(_SAMPLE_TEXTS, text_type)})
    return table, TaskContext(task_index=0, n_tasks=1, source="kernel warm-up", seed=0)


def _heuristics(stage: Stage, table: pa.Table, ctx: TaskContext) -> None:
    stage.process(table, ctx)


def _minhash(stage: Any, table: pa.Table, ctx: TaskContext) -> None:
    stage.summarize(table, ctx)
    if stage.check_mode == "exact":
        from curate.text.minhash import jaccard_of_sorted_sets, shingle_sets

        values, offsets = shingle_sets(table.column(schema.TEXT), stage.ngram)
        jaccard_of_sorted_sets(values, offsets, values, offsets)


def _shingles(stage: Any, table: pa.Table, ctx: TaskContext) -> None:
    from curate.text.minhash import shingle_sets

    shingle_sets(table.column(schema.TEXT), stage.ngram)


def _classify(stage: Any, table: pa.Table, ctx: TaskContext) -> None:
    from curate.classifiers.preprocess import lines_for

    lines_for(table.column(schema.TEXT), stage.preprocess_mode())


def _id_hash(stage: Stage, table: pa.Table, ctx: TaskContext) -> None:
    from curate.text.id_hash import id_hashes

    id_hashes(table.column(schema.ID), 0)


def _jsonl() -> None:
    import numpy as np

    from curate.io.jsonl_scan import scan_lines

    scan_lines(np.frombuffer(b'{"id": "a", "text": "b\\u00e9", "n": 1}\n', dtype=np.uint8))


# stage name -> what compiles its kernels
_BY_STAGE: dict[str, Callable[[Any, pa.Table, TaskContext], None]] = {
    **{name: _heuristics for name in _HEURISTICS},
    "minhash_dedup": _minhash,
    "decontaminate": _shingles,
    "classify": _classify,
    "sample": _id_hash,
    "prune": _id_hash,
}


def _dispatchers(stage_name: str, exact_check: bool = False) -> list[Any]:
    """The top-level kernels a stage's warm-up compiles (their cache files tell if it must run)."""
    if stage_name in _HEURISTICS:
        from curate.stages.heuristics.kernels import kernels

        return list(vars(kernels()).values())
    if stage_name in ("minhash_dedup", "decontaminate"):
        from curate.text import minhash

        signatures = [minhash._signatures] if stage_name == "minhash_dedup" else []
        shingles = [minhash._shingle_sets] if stage_name == "decontaminate" or exact_check else []
        return signatures + shingles + ([minhash._intersection_sizes] if exact_check else [])
    if stage_name == "classify":
        from curate.classifiers import preprocess

        return [preprocess._lines]
    if stage_name == "jsonl":
        from curate.io import jsonl_scan

        return [jsonl_scan._scan]
    from curate.text import id_hash

    return [id_hash._hash_all]


def _cached(dispatcher: Any) -> bool:
    """Whether numba's on-disk cache holds code for this kernel's current source (any signature)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError, ValueError):  # another numba layout: just compile
        return False


def needs_compiling(stages: Iterable[Stage], jsonl_input: bool) -> list[str]:
    """Names (stage names, ``jsonl``) whose kernels are not in numba's cache yet."""
    kernels = {s.name: _dispatchers(s.name, getattr(s, "check_mode", "") == "exact")
               for s in stages if s.name in _BY_STAGE}
    if jsonl_input:
        kernels["jsonl"] = _dispatchers("jsonl")
    return sorted(n for n, found in kernels.items() if not all(_cached(d) for d in found))


def warm_up(stages: list[Stage], text_type: pa.DataType, jsonl_input: bool,
            log: Callable[[str], None]) -> float:
    """Compile (or load) the kernels of `stages` that numba's cache lacks; returns seconds spent."""
    pending = needs_compiling(stages, jsonl_input)
    if not pending:
        return 0.0
    log(f"compiling numba kernels for {', '.join(pending)} (once per machine; later runs load them from "
        "numba's cache) ...")
    t0 = time.perf_counter()
    table, ctx = _sample(text_type)
    for stage in stages:
        if stage.name in pending:
            _BY_STAGE[stage.name](stage, table, ctx)
    if "jsonl" in pending:
        _jsonl()
    seconds = time.perf_counter() - t0
    log(f"numba kernels compiled in {seconds:.1f} s")
    return seconds


def warm_up_plan(plan: Any, log: Callable[[str], None]) -> float:
    """:func:`warm_up` for a run plan: its stages, the input's text type and whether any input is JSONL."""
    stages = [node.stage for node in plan.graph.nodes]
    text_type = plan.schema.field(schema.TEXT).type if schema.TEXT in plan.schema.names else pa.string()
    jsonl = any(t.fmt in ("jsonl", "json") for t in plan.tasks)
    return warm_up(stages, text_type, jsonl, log)
