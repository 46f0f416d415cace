"""What every sink format shares: the writer interface and a file streamed under a temporary name.

A sink writer gets one task's kept rows, batch by batch and in order, and writes that task's
shard (one file, or a data file plus its index files). Every file appears under its final name
only when complete, through :meth:`curate.store.files.Files.upload`, so a reader never
sees half a shard and a failed task leaves nothing behind.
"""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa

from curate.store.files import Files


class SinkWriter(Protocol):
    """Writes one task's shard of one sink."""

    def write(self, table: pa.Table) -> None:
        """Append a batch of rows (called in row order)."""

    def close(self, empty_schema: pa.Schema) -> dict[str, int]:
        """Publish the shard; return its counts: ``docs``, ``bytes``, ``shards`` (and ``tokens``)."""

    def abort(self) -> None:
        """Remove everything written so far (the task failed)."""


class AtomicStream:
    """A binary output stream on `files` that becomes visible as `path` on :meth:`commit`.

    `compression` is an Arrow codec name (``gzip``, ``zstd``) for a compressed stream.
    """

    def __init__(self, files: Files, path: str, compression: str | None = None) -> None:
        self.files, self.path = files, path
        self._upload = files.upload(path)
        self.out: Any = (self._upload.stream if compression is None else
                         pa.CompressedOutputStream(self._upload.stream, compression))
        self._compressed = compression is not None

    def write(self, data: bytes | memoryview) -> None:
        self.out.write(data)

    def commit(self) -> int:
        """Close and publish the file; return its size in bytes."""
        if self._compressed:
            self.out.close()  # flushes the codec; the upload's stream is closed by commit
        self._upload.commit()
        return file_size(self.files, self.path)

    def abort(self) -> None:
        """Discard what was written; nothing appears under `path`."""
        self._upload.abort()


def file_size(files: Files, path: str) -> int:
    return int(files.fs.get_file_info(path).size)


def write_file(files: Files, path: str, data: bytes) -> int:
    """Write a small whole file atomically; return its size."""
    files.write_bytes(path, data)
    return len(data)
