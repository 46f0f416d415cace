"""Walk the input directory and account for every entry in it.

Each entry is read (a shard), skipped by rule (a name starting with ``_`` or ``.``: ``_SUCCESS``,
``_curate/``, hidden and temporary files, so a curate output can be the next run's input: its
sinks are read), counted as a file of unknown type, or reported as a problem: a directory that
cannot be listed, a broken symlink, a symlink loop, a second path to a file or directory already
found (through a symlink), a special file (FIFO, socket, device), which is never opened, or a
name that is not valid UTF-8 (Arrow and the output's JSON and Parquet hold names as UTF-8).
Symlinks are followed; loops are detected by (device, inode) of the directories on the way down.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from curate.errors import InputError

Problem = Callable[[str, str, str], None]  # (entry relative to the input, reason, message)


def raise_problem(rel: str, reason: str, message: str) -> None:
    raise InputError(message, file=rel, reason=reason)


@dataclass
class Walk:
    """What a walk found: shards as (path, relative name), and files of no known type."""

    shards: list[tuple[Path, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def is_utf8(name: str) -> bool:
    """Whether a name from the file system (undecodable bytes held as surrogate escapes) is UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(name: str) -> str:
    """A file system name, its undecodable bytes written as ``\\xNN``, for messages."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def walk(root: Path, is_shard: Callable[[Path], bool], on_problem: Problem = raise_problem) -> Walk:
    """Every entry under `root` (a directory), sorted by relative path within each directory."""
    found = Walk()
    seen_dirs: dict[tuple[int, int], str] = {}
    seen_files: dict[tuple[int, int], str] = {}

    def visit_dir(path: Path, rel: str, chain: dict[tuple[int, int], str]) -> None:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            on_problem(rel or ".", "unreadable_entry", f"cannot list directory: {exc.strerror or exc}")
            return
        for entry in entries:
            if entry.name.startswith(("_", ".")):
                continue
            sub = f"{rel}/{entry.name}" if rel else entry.name
            if not is_utf8(entry.name):
                on_problem(shown(sub), "bad_file_name", "the name is not valid UTF-8: rename it")
                continue
            try:
                st = os.stat(entry.path)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    on_problem(sub, "symlink_loop", "symlink loop (too many levels of symbolic links)")
                elif entry.is_symlink() and exc.errno == errno.ENOENT:
                    on_problem(sub, "broken_symlink", f"broken symlink to {os.readlink(entry.path)}")
                else:
                    on_problem(sub, "unreadable_entry", f"cannot stat: {exc.strerror or exc}")
                continue
            key = (st.st_dev, st.st_ino)
            if stat.S_ISDIR(st.st_mode):
                if key in chain:
                    on_problem(sub, "symlink_loop", f"symlink loop: leads back to '{chain[key] or '.'}'")
                elif key in seen_dirs:
                    on_problem(sub, "duplicate_entry", f"same directory as '{seen_dirs[key]}', read once")
                else:
                    seen_dirs[key] = sub
                    visit_dir(Path(entry.path), sub, {**chain, key: sub})
            elif stat.S_ISREG(st.st_mode):
                if not is_shard(Path(entry.path)):
                    found.unknown.append(sub)
                elif key in seen_files:
                    on_problem(sub, "duplicate_entry", f"same file as '{seen_files[key]}', read once")
                else:
                    seen_files[key] = sub
                    found.shards.append((Path(entry.path), sub))
            else:
                on_problem(sub, "special_file", f"{_special_kind(st.st_mode)}, not opened")

    st = os.stat(root)
    seen_dirs[(st.st_dev, st.st_ino)] = ""
    visit_dir(root, "", {(st.st_dev, st.st_ino): ""})
    found.shards.sort(key=lambda item: item[1])
    return found
