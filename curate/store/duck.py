"""DuckDB connections for the out-of-core steps (duplicate ids, dedup combines, pruning):
memory-capped, spilling to a directory of the run's `_curate/work/`, with a chosen thread count."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

DEFAULT_MEMORY_MB = 2048
# the reusable connection of this thread and the settings it has (a DuckDB connection serves one
# call at a time: an executor that runs units in threads gives each thread its own)
_SHARED = threading.local()


def connect(temp_dir: Path | str, memory_mb: int = DEFAULT_MEMORY_MB, threads: int = 1, reuse: bool = False) -> Any:
    """A DuckDB connection capped at `memory_mb` that spills to `temp_dir`.

    With `reuse`, the thread keeps one connection per settings and hands it out again (opening
    one costs ~15 ms, as much as a small query: the MinHash band jobs reuse theirs); the caller
    must then not close it.
    """
    import duckdb

    temp_dir = Path(temp_dir)
    temp_dir.mkdir(parents=True, exist_ok=True)
    key = (str(temp_dir), int(memory_mb), int(threads), os.getpid())
    if reuse and getattr(_SHARED, "key", None) == key:
        return _SHARED.con
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {max(1, int(threads))}")
    con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    con.execute(f"SET temp_directory = '{sql_path(temp_dir)}'")
    con.execute("SET preserve_insertion_order = false")
    if reuse:
        if getattr(_SHARED, "con", None) is not None:
            _SHARED.con.close()
        _SHARED.con, _SHARED.key = con, key
    return con


def sql_path(path: Path | str) -> str:
    """A path as the body of a single-quoted SQL string literal."""
    return str(path).replace("'", "''")


# DuckDB expands these in every path it reads (read_parquet), with no way to escape them.
GLOB_CHARS = frozenset("*?[]{}")
_LINKS: list[str] = []  # this process's directory of safe links, made on first need


def readable_path(path: Path | str) -> str:
    """A name DuckDB reads as exactly `path`: the path itself, or, when it holds a glob
    character, a symlink to it with a plain name in a private temporary directory (removed
    when the process exits). Paths are data: no input or output name can make DuckDB read
    another file."""
    text = str(path)
    if not GLOB_CHARS.intersection(text):
        return text
    if not _LINKS:
        import atexit
        import shutil
        import tempfile

        _LINKS.append(tempfile.mkdtemp(prefix="curate-duck-"))
        atexit.register(shutil.rmtree, _LINKS[0], True)
    import xxhash

    digest = xxhash.xxh64_hexdigest(text.encode("utf-8", "surrogateescape"))
    link = Path(_LINKS[0]) / f"{digest}{Path(text).suffix}"
    if not link.is_symlink():
        link.symlink_to(Path(text).absolute())
    return str(link)


def sql_file(path: Path | str) -> str:
    """A single-quoted SQL literal that DuckDB's readers take as exactly `path`."""
    return f"'{sql_path(readable_path(path))}'"


def sql_list(paths: list[str] | list[Path]) -> str:
    """A SQL list literal of paths, for read_parquet([...]), each read as exactly itself."""
    return "[" + ", ".join(sql_file(p) for p in paths) + "]"


def arrow_reader(rel: Any, batch_rows: int = 1 << 16) -> Any:
    """A relation's rows as a stream of Arrow record batches (DuckDB 1.4 renamed
    fetch_arrow_reader, deprecated since, to to_arrow_reader)."""
    return rel.to_arrow_reader(batch_rows) if hasattr(rel, "to_arrow_reader") else rel.fetch_arrow_reader(batch_rows)
