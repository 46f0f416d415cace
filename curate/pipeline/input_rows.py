"""The run's input rows as the graph sees them: each task's file read, checked and numbered.

The read unit reads every task once: null and duplicate ids are errors, empty, whitespace-only
and oversized documents are rejected with a reason, and the rows left (the input stream) are
numbered 0, 1, ... in file order. All of it is deterministic, so the same file gives the same rows
with the same positions every time it is read.

That is what lets a global stage whose input is the run's input (``curate dedup``, a pipeline
that starts with ``minhash_dedup``) skip the copy: instead of the read unit writing the input
stream to ``_curate/work/streams/read/`` and the apply pass reading it back, the apply pass reads the
input file again (:class:`InputRows`). :func:`rereads_input` says when that is cheaper; the
measurements behind the rule are in docs/performance.md. A file that changed between the passes
is refused: its size and modification time must be those the run started with, and the rows read
again must be as many as the first pass kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import InputError
from curate.io import read as reader
from curate.pipeline.graph import READ_NODE
from curate.pipeline.id_check import ID_NODE, task_duplicates
from curate.pipeline.settings import RunSettings
from curate.pipeline.streams import Batch, split_rejected
from curate.store.layout import WorkStore
from curate.store.state import StageStore
from curate.store.storage import content_key, parse

NULL_ID, DUPLICATE_ID = "null_id", "duplicate_id"  # the read checks' own errors


class ErrorSink:
    """Applies the error policy to bad rows: raise (fail) or record (skip)."""

    def __init__(self, policy: str, file: str, preset: list[dict[str, Any]] | None = None):
        self.policy, self.file = policy, file
        self.errors: list[dict[str, Any]] = list(preset or [])
        self.n = 0

    def __call__(self, row: int | None, reason: str, message: str) -> None:
        self.n += 1
        if self.policy == "fail":
            raise InputError(message, file=self.file, row=row, reason=reason)
        self.errors.append({"file": self.file, "row": row, "reason": reason, "message": message})


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or schema.TEXT not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table.column(schema.TEXT))).as_py() or 0)


def validate_read(table: pa.Table, settings: RunSettings, dups: dict[int, tuple[str, int]], errors: ErrorSink,
                  errored: list[int]) -> pa.Table:
    """The implicit first step: null ids and duplicate ids (`dups`: row -> where the id was first
    seen) are errors (counted in ``errored[0]``); empty or null text and documents over
    max_doc_bytes are rejected with a reason."""
    rows = table.column(reader.ROW).to_numpy()
    ids = table.column(schema.ID)
    null_ids = pc.is_null(ids).to_numpy(zero_copy_only=False)
    bad = null_ids | np.isin(rows, np.fromiter(dups, np.int64, len(dups))) if dups else null_ids
    if bad.any():
        for r, is_null in zip(rows[bad], null_ids[bad]):
            if is_null:
                errors(int(r), NULL_ID, "the id is null")
            else:
                first_file, first_row = dups[int(r)]
                errors(int(r), DUPLICATE_ID, f"duplicate id (first seen in {first_file} row {first_row})")
        table = table.filter(pa.array(~bad))
        errored[0] += int(bad.sum())
    text = table.column(schema.TEXT)
    # whitespace only (or nothing): an anchored regex stops at the first other character
    empty = pc.fill_null(pc.match_substring_regex(text, r"^[\s\p{Z}]*$"), True)
    too_large = pc.fill_null(pc.greater(pc.binary_length(text), settings.max_doc_bytes), False)
    reason = pc.if_else(empty, pa.scalar(schema.REASON_EMPTY_TEXT),
                        pc.if_else(too_large, pa.scalar(schema.REASON_TOO_LARGE), pa.scalar(None, pa.string())))
    if schema.READ_REASON in table.column_names:  # a reader's own reason (a WARC record that is no page) first
        reason = pc.coalesce(table.column(schema.READ_REASON), reason)
        table = table.drop_columns([schema.READ_REASON])
    return table.append_column(schema.REJECT_REASON, reason).drop_columns([reader.ROW])


def failed_rows(errors: list[dict[str, Any]]) -> set[int] | None:
    """The rows of a task's file that failed the read, from its read unit's errors (None: the
    whole task); a null or duplicate id is no failure of the read."""
    rows: set[int] = set()
    for e in errors:
        if e["reason"] in (NULL_ID, DUPLICATE_ID):
            continue
        if e["row"] is None:
            return None
        rows.add(e["row"])
    return rows


def duplicate_rows(store: WorkStore, tasks: list[reader.Task], task: int) -> dict[int, tuple[str, int]]:
    """Task `task`'s rows whose id came earlier in the input: row -> (file, row) of the first
    (the id check's state, curate.pipeline.id_check)."""
    t = task_duplicates(StageStore(store, ID_NODE), task)
    if t is None:
        return {}
    return {r: (tasks[ft].rel, fr) for r, ft, fr in zip(t.column("row").to_pylist(), t.column("first_task").to_pylist(),
                                                         t.column("first_row").to_pylist())}


@dataclass
class ReadBatch:
    """One batch of a task's file after the read checks."""

    rows_in: int  # rows the reader gave (before errors were taken out)
    bytes_in: int  # their text bytes
    kept: pa.Table
    kept_pos: np.ndarray
    rejected: pa.Table | None
    counts: dict[str, int]  # reject reason -> rows
    errored: int
    seconds: float


def read_checked(task: reader.Task, target: pa.Schema, settings: RunSettings, dups: dict[int, tuple[str, int]],
                 errors: ErrorSink) -> Iterator[ReadBatch]:
    """Task `task`'s file, batch by batch, through the read checks, its kept rows numbered from 0."""
    offset = 0
    batches = reader.read_task(task, target, settings.columns, settings.batch_rows, on_row_error=errors)
    for table in batches:
        n_in, b_in, t0 = table.num_rows, text_bytes(table), time.perf_counter()
        errored = [0]
        table = validate_read(table, settings, dups, errors, errored)
        pos = np.arange(offset, offset + table.num_rows, dtype=np.int64)
        offset += table.num_rows
        kept, kept_pos, rejected, _, counts = split_rejected(table, pos)
        yield ReadBatch(n_in, b_in, kept, kept_pos, rejected, counts, errored[0], time.perf_counter() - t0)


def kept_schema(target: pa.Schema, settings: RunSettings) -> pa.Schema:
    """The schema of the input stream (what the read checks leave of the reader's `target`)."""
    empty = target.append(pa.field(reader.ROW, pa.int64())).empty_table()
    checked = validate_read(empty, settings, {}, ErrorSink("skip", ""), [0])
    return checked.drop_columns([schema.REJECT_REASON]).schema


def rereads_input(tasks: list[reader.Task], output_is_local: bool) -> bool:
    """Whether a global stage reading the run's input reads the input files again in its apply
    pass instead of a copy under ``_curate/work/streams/read/``.

    Yes when every file's format says reading it again is cheaper (Parquet, uncompressed JSON
    Lines: :meth:`curate.io.input_format.InputFormat.rereads`) and it is on the local disk, or is
    remote while OUTPUT is remote too. Measured with bench/passes_io.py (docs/performance.md):
    at 200,000 documents reading again was faster for local Parquet (1.22x), JSONL (1.19x) and S3
    on loopback (Parquet 1.01x, JSONL 1.07x) and writes one copy of the input less; gzipped JSONL
    was slower to read again in both runs recorded (0.887x, 0.906x: inflating the input again
    costs more than the copy), so compressed JSON Lines keeps the copy. A remote input with a
    local OUTPUT keeps the copy: reading again means fetching the input over the network a second
    time, where the copy is a local disk write and read. CSV/TSV, WARC/WET and Hugging Face Arrow
    inputs keep it too: WARC's HTML extraction costs far more than the copy, and the other two
    were not measured.
    """
    return bool(tasks) and all(
        t.format.rereads(str(t.path)) and (parse(t.path).is_local or not output_is_local) for t in tasks)


@dataclass
class InputRows:
    """The input stream of one task read again from its file, with the checks and positions the
    read unit gave it; refused when the file changed since the run started."""

    tasks: list[reader.Task]
    target: pa.Schema
    settings: RunSettings
    store: WorkStore
    keys: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # path -> content key at the start

    @staticmethod
    def start(tasks: list[reader.Task], target: pa.Schema, settings: RunSettings, store: WorkStore) -> InputRows:
        storage = settings.storage
        keys = {t.path: content_key(storage, t.path) for t in tasks}
        return InputRows(tasks, target, settings, store, keys)

    def schema(self, task: int) -> pa.Schema:
        return kept_schema(self.target, self.settings)

    def rows(self, task: int) -> int:
        """Rows of task `task`'s input stream, as the read unit counted them."""
        report = self.store.files.read_json(self.store.done_marker(READ_NODE, task))
        return next((s["docs_out"] for s in report["stats"] if s["stage"] == READ_NODE), 0)

    def batches(self, task: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[Batch]]:
        """Task `task`'s rows read again: whole rows (a pass over the input files reads every
        column of them; `columns` is for streams kept under the work folder)."""
        return self.schema(task), self._batches(task)

    def _batches(self, index: int) -> Iterator[Batch]:
        expected = self.rows(index)
        if expected == 0:  # nothing kept (or a file reported unreadable): nothing to read
            return
        task = self.tasks[index]
        self._check_unchanged(task)
        seen = 0
        errors = ErrorSink("skip", task.rel)  # the read unit reported them already
        for batch in read_checked(task, self.target, self.settings, duplicate_rows(self.store, self.tasks, index),
                                  errors):
            seen += batch.kept.num_rows
            yield batch.kept, batch.kept_pos
        if seen != expected:
            raise InputError(f"the file changed during the run: the first pass kept {expected} rows of "
                             f"{task.label}, reading it again gave {seen}; run again with --overwrite",
                             file=task.rel, reason="input_changed")

    def read(self, task: int) -> pa.Table:
        sch, batches = self.batches(task)
        tables = [t for t, _ in batches]
        return pa.concat_tables(tables) if tables else sch.empty_table()

    def _check_unchanged(self, task: reader.Task) -> None:
        now = content_key(self.settings.storage, task.path)
        if now != self.keys[task.path]:
            raise InputError("the file changed during the run (its size or modification time is not what it "
                             "was when the run started); run again with --overwrite",
                             file=task.rel, reason="input_changed")
