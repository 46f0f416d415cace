"""Error types. User-facing errors (bad input, bad config, infeasible request) exit with code 2."""

from __future__ import annotations

import importlib
import re
from types import ModuleType

# C0/C1 controls, line/paragraph separators and bidi overrides: a file name or value holding one
# could break a one-line message or make it read differently than it is.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``), for one-line messages."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class CurateError(Exception):
    """Base class for errors that are the user's to fix; the CLI prints one line and exits 2."""

    exit_code = 2


class ConfigError(CurateError):
    """A pipeline, stage parameter or CLI option is invalid."""


class MissingExtra(ConfigError):
    """An optional dependency is not installed: the message names the extra that brings it."""


def import_extra(module: str, extra: str, needed_for: str) -> ModuleType:
    """Import `module`, an optional dependency of curate's `extra`; MissingExtra (exit 2, one line:
    ``pip install 'curate[EXTRA]'``) when it is not installed. `needed_for` says what needs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{needed_for} needs {module.split('.')[0]}, not installed: "
                           f"pip install 'curate[{extra}]'") from None


class InputError(CurateError):
    """An input file or row is unreadable or violates the record contract.

    `file` and `row` (0-based within the file) locate the problem when known.
    """

    def __init__(self, message: str, file: str | None = None, row: int | None = None, reason: str = "bad_input"):
        self.file = file
        self.row = row
        self.reason = reason
        self.detail = message
        where = ""
        if file is not None:
            where = printable(file)
            if row is not None:
                where += f" row {row}"
            where += ": "
        super().__init__(where + printable(message))


class InfeasibleError(CurateError):
    """The request cannot be satisfied (e.g. a budget the buckets cannot supply)."""


class StorageError(CurateError):
    """The environment refused a write or read: permission, no space, a path that is a file."""


class WorkerLost(CurateError):
    """A worker process died (killed, out of memory) while it ran a unit of work: exit 1, since
    nothing in the input is wrong; the finished work is kept and ``--resume`` continues."""

    exit_code = 1

    def __init__(self, message: str, items: list | None = None) -> None:
        super().__init__(message)
        self.items = list(items or [])


class AccountingError(RuntimeError):
    """docs in != kept + rejected + errored for some stage: an internal bug, exit 1."""
