"""One node's corner of the work store: its summarize partials, its combine's state, its run
metadata files and its local scratch. Stages reach it through their context and never build a
path of their own."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.store.cache import cached
from curate.store.files import Files, temp_name
from curate.store.layout import WorkStore, part_path
from curate.store.storage import Storage


@dataclass
class StageStore:
    """One node's corner of the work store: partials, state and scratch. Stages reach it through
    their context and never build a path of their own."""

    store: WorkStore
    node: str
    # where a global node's apply reads its input stream: a stream kept under the work folder
    # (curate.pipeline.streams.KeptStream) or the input files read again (input_rows.InputRows)
    input: Any = None
    upstream: tuple[str, ...] = ()  # nodes upstream of this one, nearest first

    @property
    def files(self) -> Files:
        return self.store.files

    @property
    def storage(self) -> Storage:
        """How the run opens locations (stage files such as models and plans among them)."""
        return self.store.storage

    @property
    def base(self) -> str:
        return self.store.stage_dir(self.node)

    # ---- the rows entering this node's apply pass -----------------------------------------
    def _source(self) -> Any:
        assert self.input is not None, f"node '{self.node}' reads no input stream"
        return self.input

    def read_input(self, task: int) -> pa.Table:
        """Every row of task `task`'s input stream, in order."""
        return self._source().read(task)

    def input_schema(self, task: int) -> pa.Schema:
        return self._source().schema(task)

    def input_rows(self, task: int) -> int:
        return self._source().rows(task)

    def input_batches(self, task: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[Any]]:
        """(schema, batches of (rows, positions)) of task `task`'s input stream: every column, or
        only `columns` where the stream is kept under the work folder."""
        return self._source().batches(task, columns)

    # ---- partials (summarize output) -------------------------------------------------------
    def partial(self, task: int) -> str:
        return part_path(f"{self.base}/partials", task)

    # ---- state (combine output) ------------------------------------------------------------
    def _state(self, name: str) -> str:
        return f"{self.base}/state/{name}"

    def _task_state(self, task: int, kind: str) -> str:
        return self._state(f"{kind}-{task:05d}.parquet")

    @property
    def done_marker(self) -> str:
        return self._state("_DONE")

    def reset_state(self) -> None:
        """A combine (re)starts: its state and scratch from any earlier attempt are stale (the
        scratch of every attempt: one that was paused and taken over finds its files gone)."""
        self.files.delete(f"{self.base}/state")
        shutil.rmtree(self.scratch.parent, ignore_errors=True)
        self.files.mkdir(f"{self.base}/state")

    def write_task(self, task: int, table: pa.Table, kind: str = "task") -> None:
        """Per-task state: the rows the apply step of `task` reads back with :meth:`read_task`."""
        self.files.write_table(self._task_state(task, kind), table)

    def task_path(self, task: int, kind: str = "task") -> str:
        return self._task_state(task, kind)

    def tasks_with(self, kind: str) -> list[int]:
        """The tasks that have state of `kind`, in order (one listing, not a look per task)."""
        prefix, suffix = f"{kind}-", ".parquet"
        return sorted(int(n[len(prefix):-len(suffix)]) for n in self.files.listdir(f"{self.base}/state")
                      if n.startswith(prefix) and n.endswith(suffix) and n[len(prefix):-len(suffix)].isdigit())

    def read_task(self, task: int, kind: str = "task", cache: bool = True) -> pa.Table | None:
        """Task `task`'s state of `kind` (None if combine wrote none). Cached per process, one task
        per (node, kind) at a time: the apply step is called batch by batch."""
        path = self._task_state(task, kind)

        def load() -> pa.Table | None:
            return self.files.read_table(path) if self.files.exists(path) else None

        if not cache:
            return load()
        return cached(("state", self.base, kind, task), load, slot=("state", self.base, kind))

    def write_tasks_from(self, batches: Any, n_tasks: int, kind: str = "task") -> None:
        """Write per-task state from a stream of record batches sorted by a `task` column (DuckDB
        output), one file per task that has rows, streaming: memory bounded by one task."""
        current, parts = -1, []
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            tasks = table.column("task").to_numpy()
            cut = [0, *list((tasks[1:] != tasks[:-1]).nonzero()[0] + 1), len(tasks)]
            for lo, hi in zip(cut[:-1], cut[1:]):
                t = int(tasks[lo])
                if t != current and parts:
                    self.write_task(current, pa.concat_tables(parts).drop_columns(["task"]), kind)
                    parts = []
                current = t
                parts.append(table.slice(lo, hi - lo))
        if parts:
            self.write_task(current, pa.concat_tables(parts).drop_columns(["task"]), kind)

    def write_json(self, name: str, data: Any, marker: bool = False) -> None:
        """Whole-run state `name`; a `marker` (state that resume trusts: a dict) names the run and
        is published only once everything written before it is durable (:meth:`WorkStore.write_marker`)."""
        path = self._state(f"{name}.json")
        if marker:
            self.store.write_marker(path, data)
        else:
            self.files.write_json(path, data)

    def read_marker(self, name: str) -> dict[str, Any] | None:
        """State `name` written as a marker, if it names this run (else None)."""
        return self.store.accepted(self._state(f"{name}.json"))

    def read_json(self, name: str) -> Any:
        path = self._state(f"{name}.json")
        return cached(("json", path), lambda: self.files.read_json(path))

    # ---- run metadata (OUTPUT/_curate/meta/<node>/) --------------------------------------
    def write_meta(self, name: str, data: Any) -> None:
        """A run metadata file of this node: JSON for dicts/lists, bytes as they are."""
        path = self.store.meta(self.node, name)
        if isinstance(data, (bytes, bytearray)):
            self.files.write_bytes(path, bytes(data))
        else:
            self.files.write_json(path, data)

    def read_upstream_meta(self, name: str) -> tuple[str, Any | None]:
        """The metadata file `name` of the nearest node upstream that wrote one (the sampler finds
        its buckets this way, through the graph): (its path, its JSON), or (where it was looked
        for, None)."""
        for node in self.upstream:
            path = self.store.meta(node, name)
            if self.files.exists(path):
                return path, self.files.read_json(path)
        return self.store.meta("<stage upstream>", name), None

    # ---- local scratch -------------------------------------------------------------------
    @property
    def scratch(self) -> Path:
        """A real local directory for this node's combine (DuckDB spill, intermediate files), one
        per attempt at the run (files that a paused attempt writes late are never read by
        another), emptied whenever the combine restarts."""
        return self.store.local_dir("stages", self.node, "scratch", self.store.attempt)

    def local_files(self, paths: list[str]) -> list[Path]:
        """Real local files with the content of `paths` (in the store), on the node that asks: the
        files themselves on the local disk, else copies in this node's scratch, made once per run
        and node (every job of the run on the node shares them). Copies an earlier run left on
        the node are removed first: a rerun may have rewritten the files under the same names."""
        if self.files.is_local:
            return [Path(p) for p in paths]
        # beside the attempts' scratch folders, not in one: every attempt at the run shares them
        copies = self.store.local_dir("stages", self.node, "inputs")
        mine = copies / (self.store.run_id or self.store.attempt)
        if not mine.is_dir() and copies.is_dir():
            for old in copies.iterdir():
                if old.name != mine.name:
                    shutil.rmtree(old, ignore_errors=True)
        return [self.files.local_copy(p, mine / p.strip("/").replace("/", "__")) for p in paths]

    # ---- files a combine's fan-out jobs hand on ---------------------------------------------
    def shared_file(self, name: str) -> str:
        """A file in the store that one job of this node's combine writes and other jobs, or the
        combine itself, read (the MinHash band edges): whichever node wrote it, every node reads
        it. It lives with the state, so a restarted combine starts without it."""
        return self._state(f"shared/{name}")

    @contextmanager
    def local_output(self, path: str) -> Iterator[Path]:
        """A local file to write `path` of the store with a tool that writes only local files
        (DuckDB's COPY, a ParquetWriter): published under `path` when the block exits normally,
        never otherwise. On the local disk it is a hidden sibling of `path`, renamed into place;
        elsewhere a file in this node's scratch, uploaded whole, then removed."""
        if self.files.is_local:
            self.files.mkdir(path.rpartition("/")[0])
            local = Path(temp_name(path))
        else:
            local = self.scratch / "outgoing" / f"{uuid.uuid4().hex}-{path.rpartition('/')[2]}"
            local.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield local
            if self.files.is_local:
                os.replace(local, path)
            else:
                with open(local, "rb") as src, self.files.output(path) as out:
                    shutil.copyfileobj(src, out, 8 << 20)
        finally:
            local.unlink(missing_ok=True)

    def duckdb(self, memory_mb: int | None = None, threads: int = 1) -> Any:
        """A DuckDB connection capped in memory that spills to this node's scratch."""
        from curate.store.duck import DEFAULT_MEMORY_MB, connect

        return connect(self.scratch / "duckdb_tmp", memory_mb or DEFAULT_MEMORY_MB, threads=threads)
