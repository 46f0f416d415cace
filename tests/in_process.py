"""`curate VERB ...` run inside the test process, for tests about a verb's output and exit code
rather than about the process (issue 27 item 5: tests that fit a working day).

A subprocess pays a new interpreter importing click, pyarrow, numba and DuckDB on every call (0.4 to
3 CPU seconds each, many times that on a loaded machine); here the console script's own entry point
(:func:`curate.cli.main`, with its exit-code contract in ``curate.cli.common.run_cli``) runs under
click.testing's isolation, which swaps stdin, stdout, stderr and the environment for the call. What
stays a subprocess: signals and kills, what a run's worker processes print on the real descriptors,
start-up imports, and anything that needs a fresh interpreter (``tests/faults``, ``test_cli.py``'s
runs)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
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


def curate(*args: str, env: dict[str, str | None] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``curate *args`` in this process; returns what ``subprocess.run(..., capture_output=True,
    text=True)`` would: the exit code and the text written to stdout and stderr. `env` overrides
    variables for the call (None removes one); `cwd` is the working directory (the repository, as
    the subprocess helpers used)."""
    with _restored_process_state(), CliRunner().isolation(env=env) as (stdout, stderr, _):
        os.chdir(cwd)
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode("utf-8", "backslashreplace")
    return subprocess.CompletedProcess(["curate", *args], code, out, err)
