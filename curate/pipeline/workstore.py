"""The work store: the one owner of every path under a run's OUTPUT, and the only code that reads
or writes run data.

Layout (every name below is relative to OUTPUT)::

    part-NNNNN.parquet                   final shard of task N
    _rejected/<node>/part-NNNNN.parquet  rejected rows (--keep-rejected)
    _stats.json  _errors.jsonl  _SUCCESS run results (_SUCCESS last)
    buckets.json plan.json plan.png ...  run metadata written by stages (meta files)
    _work/manifest.json                  what makes a resumed run the same run
    _work/_ids/                          the duplicate-id pre-pass
    _work/segNN/part-NNNNN.parquet       rows task N carries from pass NN into pass NN + 1
    _work/segNN/done/part-NNNNN.json     task N finished pass NN (its stats and errors)
    _work/stages/<node>/partials/        a global stage's summarize output, one file per task
    _work/stages/<node>/state/           what its combine wrote (per-task and whole-run state)
    _work/stages/<node>/scratch/         local scratch of its combine (DuckDB spill, edge files)

Everything goes through a ``pyarrow.fs.FileSystem`` opened by :mod:`curate.storage` (the local
disk natively; s3, gs, memory through fsspec in ``pyarrow.fs.PyFileSystem``). Files become visible
under their final name only when complete: on the local disk and in memory written under a hidden
temporary name and renamed, on an object store written under the final name in one upload that is
completed on success and aborted on failure (:class:`curate.storage.Upload`). DuckDB and other
tools that need real local files get them from :meth:`StageStore.local_files` and
:attr:`StageStore.scratch`, on the local scratch directory when OUTPUT is remote.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curate.errors import ConfigError
from curate.storage import READ_ONLY, Storage, Upload, activate, active, content_key, parse

COMPRESSION = "zstd"
ROW_GROUP_ROWS = 65536


def sync_filesystem(path: str) -> None:
    """Flush every dirty file and directory of the filesystem holding `path` (Linux syncfs(2);
    os.sync elsewhere)."""
    import ctypes

    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "syncfs") or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Reorder/cast `table` to `target`, adding all-null columns it lacks; extra columns are an error."""
    extra = [n for n in table.column_names if n not in target.names]
    if extra:
        raise ValueError(f"columns {extra} not in the shard's schema {target.names}")
    cols = []
    for f in target:
        if f.name in table.column_names:
            col = table.column(f.name)
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=target)


class Files:
    """Whole-file operations on one filesystem, every write atomic: a temporary name then a rename
    where the filesystem renames, one upload under the final name on an object store."""

    def __init__(self, fs: pafs.FileSystem, is_local: bool, raw: Any = None) -> None:
        self.fs, self.is_local, self.raw = fs, is_local, raw  # raw: the fsspec filesystem, if any
        self.renames = raw is None or "memory" in (raw.protocol if isinstance(raw.protocol, tuple)
                                                   else (raw.protocol,))

    @staticmethod
    def temp_name(path: str) -> str:
        head, _, name = path.rpartition("/")
        return f"{head}/.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"

    def mkdir(self, path: str) -> None:
        if self.renames:  # an object store has no directories (and s3fs would create buckets)
            self.fs.create_dir(path, recursive=True)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def delete(self, path: str) -> None:
        """Remove a file or a directory tree; nothing if absent."""
        info = self.fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(path)

    def listdir(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        return sorted(i.base_name for i in self.fs.get_file_info(pafs.FileSelector(path)))

    def upload(self, path: str) -> Upload:
        """A file being written that appears under `path` on commit (see :class:`Upload`)."""
        self.mkdir(path.rpartition("/")[0])
        return Upload(self.fs, self.raw, path, self.renames)

    @contextmanager
    def output(self, path: str) -> Iterator[Any]:
        """A writable file that appears under `path` when the block exits normally, never otherwise."""
        up = self.upload(path)
        try:
            yield up.stream
        except BaseException:
            up.abort()
            raise
        up.commit()

    def write_marker(self, path: str, data: Any) -> None:
        """Publish a marker (a done marker, _SUCCESS) only once everything written before it is
        durable: on the local disk one syncfs(2) of the whole filesystem flushes every file and
        directory entry the task or run wrote, then the marker's rename publishes it. A marker is
        what resume trusts, so after a power loss it never stands over unwritten data; files
        without their marker are redone. One sync per marker, not one per file: many small
        tasks do not pay a sync for every shard, partial and reject file."""
        text = b"" if data is None else (json.dumps(data, indent=2, default=json_default) + "\n").encode()
        up = self.upload(path)
        try:
            up.stream.write(text)
            if self.is_local:
                up.stream.close()
                sync_filesystem(up.tmp)
        except BaseException:
            up.abort()
            raise
        up.commit()  # on an object store each earlier upload completed before this one starts

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.output(path) as out:
            out.write(data)

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path, compression=None) as f:
            return f.read()

    def write_json(self, path: str, data: Any) -> None:
        self.write_bytes(path, (json.dumps(data, indent=2, default=json_default) + "\n").encode())

    def read_json(self, path: str) -> Any:
        return json.loads(self.read_bytes(path))

    def write_jsonl(self, path: str, rows: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False, default=json_default) + "\n" for r in rows)
        self.write_bytes(path, text.encode("utf-8"))

    def write_table(self, path: str, table: pa.Table) -> None:
        with self.output(path) as out:
            pq.write_table(table, out, compression=COMPRESSION)

    def read_table(self, path: str, **kwargs: Any) -> pa.Table:
        return pq.read_table(path, filesystem=self.fs, **kwargs)

    def parquet_file(self, path: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.fs.open_input_file(path))

    def num_rows(self, path: str) -> int:
        return self.parquet_file(path).metadata.num_rows

    def writer(self, path: str) -> ShardWriter:
        return ShardWriter(self, path)

    def local_copy(self, path: str, local_dir: Path) -> Path:
        """A real local file with the content of `path` (the file itself on the local disk)."""
        if self.is_local:
            return Path(path)
        local_dir.mkdir(parents=True, exist_ok=True)
        dest = local_dir / path.strip("/").replace("/", "__")
        if not dest.exists():
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
            pafs.copy_files(path, str(tmp), source_filesystem=self.fs, destination_filesystem=pafs.LocalFileSystem())
            os.replace(tmp, dest)
        return dest


class ShardWriter:
    """Streams tables into one zstd Parquet file that appears under its name on :meth:`close`.

    Later tables are cast to the schema of the first one (a stage may type an all-null column
    differently from batch to batch). :meth:`close` with nothing written writes a zero-row file
    with `empty_schema`, so that every task yields its shard.
    """

    def __init__(self, files: Files, path: str, row_group_rows: int = ROW_GROUP_ROWS,
                 compression: str = COMPRESSION) -> None:
        self.files, self.path, self.compression = files, path, compression
        self.upload = files.upload(path)
        self.row_group_rows = row_group_rows
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.upload.stream, table.schema, compression=self.compression)
        elif not table.schema.equals(self._writer.schema):
            table = conform(table, self._writer.schema)
        if table.num_rows:
            self._writer.write_table(table, row_group_size=self.row_group_rows)
            self.rows += table.num_rows

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        try:
            if self._writer is None:
                pq.write_table((empty_schema or pa.schema([])).empty_table(), self.upload.stream,
                               compression=self.compression)
            else:
                self._writer.close()
        except BaseException:
            self.upload.abort()
            raise
        self.upload.commit()

    def abort(self) -> None:
        """Throw the file away: nothing appears under its name (an upload is aborted)."""
        if self._writer is not None:
            self._writer.is_open = False  # its sink is thrown away: never write a footer into it
        self.upload.abort()


# --------------------------------------------------------------------------- content hashes
_HASHES: dict[tuple[str, int, int], str] = {}
HASH_CHUNK = 8 << 20


def content_hash(path: str | Path, storage: Storage | None = None) -> str:
    """What identifies a file's content, for the resume fingerprint. A local file (or one on a
    store that keeps no content tag, as memory://): xxh3-128 of every byte, streamed, cached per
    (location, size, mtime) in this process, so one run hashes each file once; footers or
    statistics would not do, as an edited data page leaves them unchanged. An object on a store:
    the store's content tag and size (S3 ETag, GCS md5Hash, the Hub's blob id), so that a remote
    corpus is not read twice. Any change of content changes the tag; the same bytes uploaded
    in other part sizes get another multipart ETag, which makes a resume refuse (never mix)."""
    import xxhash

    storage = storage or active()
    loc = parse(path)
    if not loc.is_local:
        tag = storage.content_tag(loc)
        if tag is not None:
            return tag
    if loc.is_local:
        st = os.stat(loc.path)
        key = (loc.path, st.st_size, st.st_mtime_ns)
    else:
        key = content_key(storage, loc.uri)
    if key not in _HASHES:
        h = xxhash.xxh3_128()
        with storage.open_input_stream(loc) as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


# --------------------------------------------------------------------------- per-process cache
_CACHE: dict[Any, Any] = {}
_CACHE_RUN: list[str] = [""]


def begin_run(run_id: str, storage: Storage | None = None) -> None:
    """Scope the per-process cache to one run: a new run (which may see retrained models or
    recomputed state under the same paths) starts empty; stage files (models, tokenizers) are
    opened with the run's `storage`. Called by the task and combine steps."""
    if storage is not None:
        activate(storage)
    if _CACHE_RUN[0] != run_id:
        _CACHE.clear()
        _CACHE_RUN[0] = run_id


def cached(key: Any, loader: Callable[[], Any], slot: Any = None) -> Any:
    """The object `loader` makes for `key`, made once per process and run. With a `slot`, only
    the latest key of that slot is kept (per-task state: memory bounded by one task)."""
    if slot is not None:
        held = _CACHE.get(("slot", slot))
        if held is not None and held[0] == key:
            return held[1]
        value = loader()
        _CACHE[("slot", slot)] = (key, value)
        return value
    if key not in _CACHE:
        _CACHE[key] = loader()
    return _CACHE[key]


# --------------------------------------------------------------------------- the store
POSITION = "_curate_pos"  # a row's position in its origin, kept with streams under _work/ for unions


def _part(directory: str, task: int, ext: str = "parquet") -> str:
    return f"{directory}/part-{task:05d}.{ext}"


@dataclass
class WorkStore:
    """Paths and I/O of one run's OUTPUT; picklable, so workers get it with their unit of work."""

    root: str
    files: Files
    root_uri: str = ""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    storage: Storage = field(default_factory=Storage)

    @classmethod
    def open(cls, uri: str | Path, storage: Storage | None = None) -> WorkStore:
        storage = storage or active()
        loc = parse(uri)
        fs, raw = storage.filesystems(loc.scheme)
        if loc.scheme in READ_ONLY:
            raise ConfigError(f"{loc.uri}: {loc.scheme}:// is read only; write the output elsewhere")
        return cls(loc.path.rstrip("/") or "/", Files(fs, loc.is_local, raw), root_uri=loc.uri, storage=storage)

    @property
    def work(self) -> str:
        return f"{self.root}/_work"

    @property
    def in_memory(self) -> bool:
        """Whether the store lives in this process's memory (memory://): no other process sees it."""
        return self.root_uri.startswith("memory://")

    @property
    def display(self) -> str:
        return self.root_uri or self.root

    # ---- final outputs -------------------------------------------------------------------
    def sink(self, name: str, task: int) -> str:
        """Shard `task` of sink `name` (the unnamed sink "" is OUTPUT/ itself)."""
        return _part(f"{self.root}/{name}" if name else self.root, task)

    def sink_dir(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def rejected(self, node: str, task: int) -> str:
        return _part(f"{self.root}/_rejected/{node}", task)

    def meta(self, node: str, name: str) -> str:
        """A run metadata file a node writes (buckets.json, plan.json, plan.png): under
        ``_meta/<node>/``, so that sink folders hold shards only."""
        return f"{self.root}/_meta/{node}/{name}"

    def root_file(self, name: str) -> str:
        """A file of the run itself at the top of OUTPUT (_CURATE_RUN.json, _LEASE.json)."""
        return f"{self.root}/{name}"

    @property
    def stats_file(self) -> str:
        return f"{self.root}/_stats.json"

    @property
    def errors_file(self) -> str:
        return f"{self.root}/_errors.jsonl"

    @property
    def success_file(self) -> str:
        return f"{self.root}/_SUCCESS"

    # ---- run bookkeeping -----------------------------------------------------------------
    @property
    def manifest(self) -> str:
        return f"{self.work}/manifest.json"

    def stream_rows(self, stream: str, task: int) -> str:
        """Task `task`'s rows of a stream a later unit reads back (`stream`: its folder name)."""
        return _part(f"{self.work}/streams/{stream}", task)

    def done_marker(self, unit: str, task: int) -> str:
        return _part(f"{self.work}/units/{unit}/done", task, "json")

    def ids(self, what: str, task: int | None = None) -> str:
        """The duplicate-id pre-pass: ``ids``/``dups`` per task, or its ``_DONE`` marker."""
        base = f"{self.work}/_ids"
        return f"{base}/{what}" if task is None else _part(f"{base}/{what}", task)

    def stage(self, node: str, input: Any = None, upstream: tuple[str, ...] = ()) -> StageStore:
        return StageStore(self, node, input, upstream)

    def local_dir(self, *parts: str) -> Path:
        """A real local directory for tools that need one (DuckDB): under OUTPUT on the local disk,
        else under the scratch directory (``--scratch``, default the system temp directory of the
        node running the step), scoped to this output."""
        if self.files.is_local:
            return Path(self.work).joinpath(*parts)
        tag = uuid.uuid5(uuid.NAMESPACE_URL, self.root_uri).hex[:12]
        return self.storage.scratch_dir(f"curate-work-{tag}", *parts)

    def work_bytes(self) -> int:
        """Total size of the files under ``_work/`` (0 when it is gone)."""
        if not self.files.exists(self.work):
            return 0
        infos = self.files.fs.get_file_info(pafs.FileSelector(self.work, recursive=True))
        return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File)

    def clean_work(self) -> bool:
        """Remove ``_work/`` (and the local scratch of a remote OUTPUT) of a finished run: only
        once ``_SUCCESS`` exists, so an unfinished run keeps what ``--resume`` needs. The
        ownership marker lives outside ``_work/`` and stays. Returns whether it removed anything."""
        if not self.files.exists(self.success_file) or not self.files.exists(self.work):
            return False
        self.files.delete(self.work)
        self.wipe_local()
        return True

    def wipe_local(self) -> None:
        """Delete this output's local scratch when OUTPUT itself is elsewhere (``--overwrite``)."""
        if not self.files.is_local:
            shutil.rmtree(self.local_dir(), ignore_errors=True)


@dataclass
class StageStore:
    """One node's corner of the work store: partials, state and scratch. Stages reach it through
    their context and never build a path of their own."""

    store: WorkStore
    node: str
    # where a global node's apply reads its input stream: a stream kept under _work/
    # (curate.pipeline.streams.KeptStream) or the input files read again (input_rows.InputRows)
    input: Any = None
    upstream: tuple[str, ...] = ()  # nodes upstream of this one, nearest first

    @property
    def files(self) -> Files:
        return self.store.files

    @property
    def base(self) -> str:
        return f"{self.store.work}/stages/{self.node}"

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

    def input_batches(self, task: int) -> tuple[pa.Schema, Iterator[Any]]:
        """(schema, batches of (rows, positions)) of task `task`'s input stream."""
        return self._source().batches(task)

    # ---- partials (summarize output) -------------------------------------------------------
    def partial(self, task: int) -> str:
        return _part(f"{self.base}/partials", task)

    # ---- state (combine output) ------------------------------------------------------------
    def _state(self, name: str) -> str:
        return f"{self.base}/state/{name}"

    def _task_state(self, task: int, kind: str) -> str:
        return self._state(f"{kind}-{task:05d}.parquet")

    @property
    def done_marker(self) -> str:
        return self._state("_DONE")

    def reset_state(self) -> None:
        """A combine (re)starts: its state and scratch from any earlier attempt are stale."""
        self.files.delete(f"{self.base}/state")
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.files.mkdir(f"{self.base}/state")

    def write_task(self, task: int, table: pa.Table, kind: str = "task") -> None:
        """Per-task state: the rows the apply step of `task` reads back with :meth:`read_task`."""
        self.files.write_table(self._task_state(task, kind), table)

    def task_path(self, task: int, kind: str = "task") -> str:
        return self._task_state(task, kind)

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

    def write_json(self, name: str, data: Any) -> None:
        self.files.write_json(self._state(f"{name}.json"), data)

    def read_json(self, name: str) -> Any:
        path = self._state(f"{name}.json")
        return cached(("json", path), lambda: self.files.read_json(path))

    # ---- run metadata (OUTPUT/_meta/<node>/) ----------------------------------------------
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
        """A real local directory for this node's combine (DuckDB spill, intermediate files),
        emptied whenever the combine restarts."""
        return self.store.local_dir("stages", self.node, "scratch")

    def local_files(self, paths: list[str]) -> list[Path]:
        """Real local files with the content of `paths` (themselves on the local disk)."""
        return [self.files.local_copy(p, self.scratch / "inputs") for p in paths]

    def duckdb(self, memory_mb: int | None = None, threads: int = 1) -> Any:
        """A DuckDB connection capped in memory that spills to this node's scratch."""
        from curate.io.duck import DEFAULT_MEMORY_MB, connect

        return connect(self.scratch / "duckdb_tmp", memory_mb or DEFAULT_MEMORY_MB, threads=threads)


def png_bytes(draw: Callable[[Any], None]) -> bytes:
    """Render a matplotlib figure drawn by `draw(path_or_buffer)` to PNG bytes."""
    buf = io.BytesIO()
    draw(buf)
    return buf.getvalue()
