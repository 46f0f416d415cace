"""Whole files on one filesystem, every write atomic: a hidden temporary name then a rename where
the filesystem renames (the local disk, memory), one upload under the final name on an object
store (completed on success, aborted on failure). Markers that resume trusts are published only
after everything written before them is durable (:meth:`Files.write_marker`)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# Work files (streams, partials, state) and rejected rows: zstd at level 1, Arrow's default level
# for zstd, named here so that it stays the choice. Measured on a 20,000-document run's largest
# work stream (bench/passes_io.py, docs/performance.md "Bytes moved"): level 1 writes 30% fewer
# bytes than lz4 or snappy for about 30% more CPU to write it (a few ms per MB); level 3 saves
# another 10% of bytes for 1.4-1.7x the write CPU and 1.2-1.9x the read CPU (two runs).
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
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


def temp_name(path: str) -> str:
    """A unique hidden sibling of `path` to write before renaming (readers never pick it up)."""
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


class Upload:
    """One file being written: visible under its final name only after :meth:`commit`.

    Where the filesystem renames (the local disk, memory), the bytes go to a hidden temporary name
    that commit renames; on an object store they go straight to the final name as one upload that
    commit completes and :meth:`abort` discards (the multipart upload is aborted: no object, no
    partial object). A process killed mid-write leaves a temporary file or an unfinished upload,
    never a partial file under the final name.
    """

    def __init__(self, fs: pafs.FileSystem, raw: Any, path: str, renames: bool,
                 guard: Callable[[], None] | None = None) -> None:
        self.fs, self.path, self.renames, self.guard = fs, path, renames, guard
        if renames:
            self.tmp = temp_name(path)
            self.stream: Any = fs.open_output_stream(self.tmp)
        else:
            self.stream = raw.open(path, "wb")

    def commit(self) -> None:
        """Publish the file: after the guard (if any) allowed it; a refused file is thrown away."""
        if self.guard is not None:
            try:
                self.guard()
            except BaseException:
                self.abort()
                raise
        self.stream.close()
        if self.renames:
            self.fs.move(self.tmp, self.path)

    def abort(self) -> None:
        if self.renames:
            try:
                self.stream.close()
            finally:
                if self.fs.get_file_info(self.tmp).type != pafs.FileType.NotFound:
                    self.fs.delete_file(self.tmp)
        else:
            self.stream.discard()  # aborts the multipart upload; nothing was PUT yet otherwise
            self.stream.closed = True  # so that no later close() completes it


def _protocols(raw: Any) -> tuple[str, ...]:
    """The protocol names of an fsspec filesystem."""
    return raw.protocol if isinstance(raw.protocol, tuple) else (raw.protocol,)


class Files:
    """Whole-file operations on one filesystem, every write atomic: a temporary name then a rename
    where the filesystem renames, one upload under the final name on an object store.

    A `guard` is called before every file is published or deleted and refuses by raising: a run's
    work store changes OUTPUT only while the run holds its lease (curate.pipeline.ownership.HeldLease)."""

    def __init__(self, fs: pafs.FileSystem, is_local: bool, raw: Any = None,
                 guard: Callable[[], None] | None = None) -> None:
        self.fs, self.is_local, self.raw = fs, is_local, raw  # raw: the fsspec filesystem, if any
        self.renames = raw is None or "memory" in _protocols(raw)
        self.guard = guard

    def guarded(self, guard: Callable[[], None] | None) -> Files:
        """The same filesystem, every publish passing `guard` first."""
        return Files(self.fs, self.is_local, self.raw, guard)

    def mkdir(self, path: str) -> None:
        if self.renames:  # an object store has no directories (and s3fs would create buckets)
            self.fs.create_dir(path, recursive=True)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def delete(self, path: str) -> None:
        """Remove a file or a directory tree; nothing if absent. The guard, if any, allows it first
        (a run that lost its lease deletes nothing of the run that took it over)."""
        if self.guard is not None:
            self.guard()
        info = self.fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(path)

    def listdir(self, path: str) -> list[str]:
        """The names in directory `path` (none if it does not exist): one listing request."""
        return sorted(i.base_name for i in self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)))

    def upload(self, path: str) -> Upload:
        """A file being written that appears under `path` on commit (see :class:`Upload`)."""
        self.mkdir(path.rpartition("/")[0])
        return Upload(self.fs, self.raw, path, self.renames, self.guard)

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

    def create_exclusive(self, path: str, data: bytes) -> bool | None:
        """Create `path` holding `data` only if nothing has that name: True if created, False if
        it existed, None if the filesystem cannot (then the caller writes, settles and verifies).
        On the local disk link(2) creates the name with its content at once and fails if it
        exists; on S3 a conditional PUT (``If-None-Match: *``, s3fs mode ``xb``)."""
        if self.is_local:
            tmp = temp_name(path)
            Path(tmp).write_bytes(data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
            return True
        if self.raw is None or "s3" not in _protocols(self.raw):
            return None
        try:
            with self.raw.open(path, "xb") as f:
                f.write(data)
        except FileExistsError:
            return False
        except (NotImplementedError, ValueError):
            return None
        return True

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
            pq.write_table(table, out, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)

    def read_table(self, path: str, **kwargs: Any) -> pa.Table:
        return pq.read_table(path, filesystem=self.fs, **kwargs)

    def parquet_file(self, path: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.fs.open_input_file(path))

    def num_rows(self, path: str) -> int:
        return self.parquet_file(path).metadata.num_rows

    def local_copy(self, path: str, dest: Path) -> Path:
        """A real local file with the content of `path`: the file itself on the local disk, else
        a copy at `dest`, made once (published by rename, so a reader never sees half of it)."""
        if self.is_local:
            return Path(path)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(temp_name(str(dest)))
            pafs.copy_files(path, str(tmp), source_filesystem=self.fs, destination_filesystem=pafs.LocalFileSystem())
            os.replace(tmp, dest)
        return dest
