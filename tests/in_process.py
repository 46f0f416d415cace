"""`curate VERB ...` run inside the test process, for tests about a verb's output and exit code
rather than about the process (issue 27 item 5: tests that fit a working day).

A subprocess pays a new interpreter importing click, pyarrow, numba and DuckDB on every call (0.4 to
3 CPU seconds each, many times that on a loaded machine); here the console script's own entry point
(:func:`curate.cli.main`, with its exit-code contract in ``curate.cli.common.run_cli``) runs under
click.testing's isolation, which swaps stdin, stdout, stderr and the environment for the call; what
is written to the descriptors 1 and 2 themselves (a run's worker processes, which inherit them, or a
C library) is captured too and appended, as a subprocess's pipes would hold it. What stays a
subprocess: signals and kills, start-up imports, and anything that needs a fresh interpreter
(``tests/faults``, ``test_cli.py``'s runs)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

from curate.cli import main

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def _restored_process_state() -> Iterator[None]:
    """Put back what a verb changes for the rest of the process: the working directory and the
    ``curate`` logger (``log_to_stderr`` adds a handler and sets its level)."""
    logger = logging.getLogger("curate")
    handlers, level, cwd = list(logger.handlers), logger.level, os.getcwd()
    try:
        yield
    finally:
        os.chdir(cwd)
        logger.handlers[:] = handlers
        logger.setLevel(level)


class _Captured:
    """The text a descriptor received (filled in when the capturing block ends)."""

    text = ""


@contextlib.contextmanager
def _descriptor_output(fd: int) -> Iterator[_Captured]:
    """What is written to file descriptor `fd` while the block runs (the descriptor is put back after)."""
    captured, saved = _Captured(), os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield captured
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "backslashreplace")


def curate(*args: str, env: dict[str, str | None] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``curate *args`` in this process; returns what ``subprocess.run(..., capture_output=True,
    text=True)`` would: the exit code and the text written to stdout and stderr. `env` overrides
    variables for the call (None removes one); `cwd` is the working directory (the repository, as
    the subprocess helpers used)."""
    with _restored_process_state(), _descriptor_output(1) as fd_out, _descriptor_output(2) as fd_err, \
            CliRunner().isolation(env=env) as (stdout, stderr, _):
        os.chdir(cwd)
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode("utf-8", "backslashreplace")
    return subprocess.CompletedProcess(["curate", *args], code, out + fd_out.text, err + fd_err.text)
