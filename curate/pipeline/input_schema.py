"""The run's input schema: every task's file schema unified into one, with the files that cannot
be used (unreadable, no id or text column, a non-string text) refused or, under ``--on-error
skip``, left out and reported.

The files' schemas are read by the executor's workers, one file per item (a JSON Lines file's
schema takes a pass over all its lines: the driver would read the whole corpus alone first); the
driver only unifies them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate import schema
from curate.errors import InputError
from curate.executors.base import Executor
from curate.io import auto_ids
from curate.io import read as reader
from curate.io.conform import ColumnMap
from curate.pipeline.settings import RunSettings


def read_schemas(tasks: list[reader.Task], settings: RunSettings,
                 executor: Executor) -> tuple[pa.Schema, list[dict[str, Any]]]:
    """The unified input schema, and the files left out under --on-error skip (with why)."""
    schemas, file_errors = [], []
    files = list({t.rel: t for t in tasks}.values())  # one task per file, in input order
    for t, (sch, problem) in zip(files, executor.map(_file_schema, [(t, settings.columns) for t in files], point="input_map")):
        if sch is not None:
            schemas.append((t.rel, sch))
        elif settings.on_error == "fail":
            raise InputError(problem["detail"], file=t.rel, row=problem["row"], reason=problem["reason"])
        else:
            file_errors.append({"file": t.rel, "row": None, "reason": "unreadable_file", "message": problem["detail"]})
    schemas = _drop_unusable_files(schemas, settings, file_errors)
    if not schemas:
        return pa.schema([]), file_errors
    return reader.unify_schemas(schemas, settings.columns), file_errors


def _file_schema(item: tuple[reader.Task, ColumnMap]) -> tuple[pa.Schema | None, dict[str, Any] | None]:
    """One file's schema, or what is wrong with it (an InputError's fields: the error itself
    would lose them crossing to the driver, whose InputError is raised or reported from them)."""
    t, columns = item
    try:
        return reader.file_schema(t.path, t.fmt, t.rel, columns, storage=t.storage), None
    except InputError as exc:
        return None, {"detail": exc.detail, "row": exc.row, "reason": exc.reason}


def _drop_unusable_files(schemas: list[tuple[str, pa.Schema]], settings: RunSettings,
                         file_errors: list[dict[str, Any]]) -> list[tuple[str, pa.Schema]]:
    """Files without the id/text columns, or with a non-string text: an InputError naming the file
    (fail), or reported and left out (skip)."""
    columns = settings.columns
    usable = []
    for rel, sch in schemas:
        problem = None
        for col, flag in ((columns.id, "--id-column"), (columns.text, "--text-column")):
            if col not in sch.names and col != auto_ids.AUTO:  # auto: the reader makes the ids
                problem = f"missing required column '{col}' (use {flag} to map another name)"
                break
        if problem is None and not (schema.is_string_type(sch.field(columns.text).type)
                                    or pa.types.is_null(sch.field(columns.text).type)):
            problem = f"column '{columns.text}' must be a string, found {sch.field(columns.text).type}"
        if problem and settings.on_error == "fail":
            raise InputError(problem, file=rel, reason="bad_schema")
        if problem:
            file_errors.append({"file": rel, "row": None, "reason": "bad_schema", "message": problem})
        else:
            usable.append((rel, sch))
    return usable
