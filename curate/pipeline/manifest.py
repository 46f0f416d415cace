"""The run manifest: what makes a resumed run the same run (the version, the graph, the settings
and the content of every input file and of every file a stage or sink reads), and the refusal,
in words, when an interrupted run in OUTPUT differs. It also holds the run id: made when a run
starts, kept by every resume, named by every marker the run writes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from curate import __version__
from curate.errors import ConfigError, InputError
from curate.io import read as reader
from curate.pipeline.graph import Graph
from curate.pipeline.settings import RunSettings
from curate.store.hashes import content_hash
from curate.store.layout import RUN, WorkStore


def fingerprint(graph: Graph, tasks: list[reader.Task], settings: RunSettings) -> dict[str, Any]:
    """What makes two runs the same run: the version, the graph, the settings, and the content
    (xxh3-128 of every byte) of every input file and of every file a stage reads (models,
    tokenizers, plans, benchmark sets)."""
    storage = settings.storage
    inputs = {rel: content_hash(path, storage) for rel, path in sorted({(t.rel, t.path) for t in tasks})}
    stage_files = {f"{who}: {path}": content_hash(path, storage) for who, paths in graph.dependency_files(storage).items()
                   for path in paths}
    return {"version": __version__, "pipeline": graph.describe(), "outputs": graph.describe_outputs(),
            "settings": settings.fingerprint(),
            "inputs": inputs, "stage_files": stage_files}


def manifest_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two manifests, in words, for the refusal to resume."""
    for key, what in (("inputs", "input file"), ("stage_files", "file read by a stage")):
        before, after = old.get(key) or {}, new.get(key) or {}
        if not isinstance(before, dict):
            return "the manifest was written by another version of curate"
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        if changed:
            verb = ["changed" if k in before and k in after else "added" if k in after else "removed" for k in changed]
            return f"{what} {changed[0]} {verb[0]} since the interrupted run" + (
                f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
    for key, what in (("version", "the curate version"), ("pipeline", "the pipeline"), ("outputs", "the outputs"),
                      ("settings", "the settings")):
        if old.get(key) != new.get(key):
            return f"{what} changed since the interrupted run"
    return "the run's configuration changed"


def open_manifest(store: WorkStore, manifest: dict[str, Any]) -> str:
    """A resumed run must be the same run, and keeps its run id; a new one gets a new run id and
    starts its manifest. Sets and returns ``store.run_id``."""
    files = store.files
    if files.exists(store.manifest):
        old, new = files.read_json(store.manifest), json.loads(json.dumps(manifest))
        run_id = old.pop(RUN, "")
        if not run_id:
            raise ConfigError(f"{store.display} holds an interrupted run of an earlier curate, whose markers name no "
                              "run; --resume cannot tell them from another run's (use --overwrite to start over)")
        if old != new:
            raise ConfigError(f"{store.display} holds an interrupted run that differs: {manifest_change(old, new)}; "
                              "--resume refuses to mix two runs (use --overwrite to start over)")
    else:
        run_id = uuid.uuid4().hex
        files.delete(store.success_file)
        files.write_json(store.manifest, {RUN: run_id, **manifest})
    store.run_id = run_id
    return run_id


def check_unchanged(store: WorkStore, graph: Graph, tasks: list[reader.Task], settings: RunSettings) -> None:
    """When the run ends, before ``_SUCCESS``: every input file and every file a stage reads must
    still hold the content the run started with (the manifest's). A file that changed while the
    run read it would leave an output that mixes its two versions (rows the id pre-pass never
    saw, a column the run's schema does not have): InputError (exit 2) naming it. The hashes are
    cached per (file, size, mtime): a file that did not change costs one stat."""
    started = store.files.read_json(store.manifest)
    try:
        now = fingerprint(graph, tasks, settings)
    except FileNotFoundError as exc:
        raise InputError("an input or stage file disappeared during the run; run again with --overwrite",
                         file=exc.filename or str(exc), reason="input_changed") from None
    for key, what in (("inputs", "input file"), ("stage_files", "file read by a stage")):
        before, after = started.get(key) or {}, now[key]
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            raise InputError(f"{what} changed during the run{more}: the output would mix its two versions, so the "
                             "run is not marked finished; run again with --overwrite",
                             file=changed[0], reason="input_changed")
