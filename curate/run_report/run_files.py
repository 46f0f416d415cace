"""What a finished run holds, read through its work store: the stats, the manifest, the shards
of its Parquet sinks and of ``_curate/rejected/``, and the metadata files its nodes wrote. No path is
built here: every one comes from :class:`curate.store.layout.WorkStore`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.errors import InputError
from curate.store.layout import WorkStore, part_path
from curate.store.storage import Storage


@dataclass
class RunFiles:
    """One finished run's OUTPUT, opened for reading."""

    store: WorkStore
    stats: dict[str, Any]
    manifest: dict[str, Any] | None  # None when --clean-work removed it
    _listings: dict[str, set[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, output: str | Path, storage: Storage | None = None) -> RunFiles:
        """The run in `output`; InputError (exit 2) unless it is a curate output that finished."""
        store = WorkStore.open(output, storage)
        files = store.files
        if not files.exists(store.success_file):
            if files.exists(store.manifest) or files.exists(store.stats_file):
                raise InputError("the run has not finished (no _SUCCESS): finish it with the same `curate run` "
                                 "and --resume, then report", file=store.display)
            if not files.exists(store.root):
                raise InputError("no such directory", file=store.display)
            raise InputError("not a curate output (no _SUCCESS, no _curate/stats.json)", file=store.display)
        try:
            stats = files.read_json(store.stats_file)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read _curate/stats.json: {exc}", file=store.display) from None
        manifest = files.read_json(store.manifest) if files.exists(store.manifest) else None
        return cls(store, stats, manifest)

    # ---- the stats ----------------------------------------------------------------------
    @property
    def tasks(self) -> int:
        return int(self.stats.get("tasks", 0))

    @property
    def graph(self) -> list[dict[str, Any]]:
        return list(self.stats.get("graph") or [])

    @property
    def stages(self) -> list[dict[str, Any]]:
        """The per-node entries of _curate/stats.json ("read" first), in pipeline order."""
        return list(self.stats.get("stages") or [])

    @property
    def sinks(self) -> dict[str, dict[str, Any]]:
        return dict(self.stats.get("sinks") or {})

    def node_specs(self) -> list[dict[str, Any]] | None:
        """Each node's stage and resolved parameters, from the manifest (None without one)."""
        return None if self.manifest is None else list(self.manifest.get("pipeline") or [])

    # ---- shards --------------------------------------------------------------------------
    def rejected_shards(self, node: str) -> list[str]:
        """The ``_curate/rejected/<node>/`` shards that exist, in task order (none without --keep-rejected)."""
        return self._existing([self.store.rejected(node, t) for t in range(self.tasks)])

    def sink_shards(self, name: str) -> list[str]:
        """The shards of Parquet sink `name` that exist, in task order (none for other formats)."""
        if self.sinks.get(name, {}).get("format", "parquet") != "parquet":
            return []
        return self._existing([part_path(self.store.sink_dir(name), t) for t in range(self.tasks)])

    def _existing(self, paths: list[str]) -> list[str]:
        """The files among `paths` (all in one folder) that exist: one listing per folder."""
        if not paths:
            return []
        folder = paths[0].rpartition("/")[0]
        if folder not in self._listings:
            self._listings[folder] = {f"{folder}/{name}" for name in self.store.files.listdir(folder)}
        return [p for p in paths if p in self._listings[folder]]

    def schema(self, path: str) -> pa.Schema:
        return self.store.files.parquet_file(path).schema_arrow

    # ---- metadata ------------------------------------------------------------------------
    def meta_json(self, node: str, name: str) -> dict[str, Any] | None:
        """A JSON file node `node` wrote under the run's metadata (plan.json, buckets.json), or None."""
        path = self.store.meta(node, name)
        if not self.store.files.exists(path):
            return None
        return self.store.files.read_json(path)

    def finished(self) -> datetime | None:
        """When the run finished (the time of its _SUCCESS marker), if the store tells."""
        return self.store.files.fs.get_file_info(self.store.success_file).mtime
