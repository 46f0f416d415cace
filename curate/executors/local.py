"""The embedded default executor: a local process pool (or the current process for one worker)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import cloudpickle

from curate.errors import WorkerLost
from curate.executors import batches
from curate.executors.base import Executor, register

POLL_SECONDS = 0.25  # how often the driver passes on the workers' per-batch progress
# Ctrl-C or SIGTERM in the driver: how long stopped workers get to abort their unit of work
# (removing the files it was writing) before they are killed; the run exits within this plus the
# driver's own clean-up.
STOP_GRACE_SECONDS = 3.0
# The signal the driver sends a worker to stop its unit of work (never sent by anyone else: a
# SIGINT or SIGTERM to the whole process group is the driver's to handle).
STOP_SIGNAL = signal.SIGUSR1


class WorkerStopped(BaseException):
    """Raised in a worker's unit of work when the driver stops the run: the unit's writers abort
    (their partial files are removed) and the worker exits."""


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: ``taskset``, cgroup cpusets, a
    scheduler's slot), which ``os.cpu_count()`` ignores; the default worker count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@register
class LocalExecutor(Executor):
    """Runs units of work in a pool of `workers` processes.

    Workers are started with the 'spawn' method: forking a parent that already runs Arrow or
    DuckDB threads is not safe. With one worker everything runs in this process. At most
    2 x workers units are in flight, so results stream back as they complete. The arguments
    shared by every unit (the run plan, with its stage objects) travel by cloudpickle, so a stage
    class defined in ``__main__`` or a notebook reaches the workers by value. Inside a daemonic
    process (a Celery prefork or multiprocessing pool worker), which may not start children,
    everything runs in this process, with a warning. The default worker count is the number of
    CPUs this process may use.
    """

    name = "local"
    help = "A process pool on this machine (one worker: this process); the embedded default."

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or usable_cpus())
        if self.workers > 1 and mp.current_process().daemon:
            logging.getLogger("curate").warning(
                "running inside a daemonic process, which may not start worker processes: the %d workers "
                "asked for run as one, in this process", self.workers)
            self.workers = 1
        self._pool: ProcessPoolExecutor | None = None
        self._progress: Any = None  # the queue the workers' per-batch progress comes through

    @property
    def in_process(self) -> bool:
        return self.workers == 1

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = mp.get_context("spawn")
            self._progress = context.Queue()
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=_start_worker, initargs=(self._progress,))
        return self._pool

    def imap(self, fn: Callable[..., Any], items: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        if self.workers == 1 or len(items) <= 1:
            for args in items:
                yield args, fn(*args)
            return
        pool = self._get_pool()
        pending: dict[Future, tuple] = {}
        queue = list(reversed(items))
        shared = _Shared(items)
        try:
            while queue or pending:
                while queue and len(pending) < 2 * self.workers:
                    args = queue.pop()
                    pending[pool.submit(_call_with_shared, fn, shared.key, shared.path, shared.strip(args))] = args
                done, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                batches.drain(self._progress)
                for fut in done:
                    args = pending.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool as exc:
                        raise WorkerLost(f"a worker process died ({exc})", [args, *pending.values()]) from None
                    yield args, result
        except BaseException as exc:
            for fut in pending:
                fut.cancel()
            # Ctrl-C, or SIGTERM (curate.cli.common.Terminated); or a worker died, possibly holding
            # the pool's result-queue lock, so a survivor could block on it for ever and a waiting
            # shutdown with it: the survivors are stopped (killed after the grace period)
            if isinstance(exc, (KeyboardInterrupt, WorkerLost)):
                self.stop()
            raise
        finally:
            shared.remove()

    def stop(self) -> None:
        """Stop at once: pending units are cancelled, running ones told to stop (they abort, which
        removes the files they were writing, and exit); a worker still alive after
        STOP_GRACE_SECONDS is killed."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())  # ProcessPoolExecutor's own
        for proc in processes:
            try:
                os.kill(proc.pid, STOP_SIGNAL)
            except (ProcessLookupError, TypeError):
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in processes:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._progress.close()
            self._progress = None


class _Shared:
    """Arguments every item of one imap call shares (the run plan): pickled once into a file that
    each worker loads once, so the per-task message stays small however large the plan (with
    20,000 tasks, pickling the plan for every task made a run quadratic in the file count).

    On Linux the file has no name from the start (``O_TMPFILE``, through
    :func:`tempfile.TemporaryFile`): workers open it as ``/proc/<driver>/fd/<fd>``, and the kernel
    frees it when the driver closes it or dies, so a killed run leaves nothing in the temporary
    directory. Elsewhere it is a named file, removed when the call ends."""

    def __init__(self, items: list[tuple]) -> None:
        first = items[0]
        n = min(len(it) for it in items)
        self.positions = [i for i, a in enumerate(first[:n]) if not _inline(a) and all(it[i] is a for it in items)]
        self.key, self.path = "", ""
        self._file: Any = None
        if self.positions:
            self.key = uuid.uuid4().hex
            fds = f"/proc/{os.getpid()}/fd"
            if os.path.isdir(fds):
                self._file = tempfile.TemporaryFile(prefix="curate-shared-")
                self.path = f"{fds}/{self._file.fileno()}"
                fh = self._file
            else:
                fd, self.path = tempfile.mkstemp(prefix="curate-shared-", suffix=".pkl")
                fh = os.fdopen(fd, "wb")
            cloudpickle.dump((self.positions, [first[i] for i in self.positions]), fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            if self._file is None:
                fh.close()

    def strip(self, args: tuple) -> tuple:
        return tuple(a for i, a in enumerate(args) if i not in self.positions)

    def remove(self) -> None:
        if self._file is not None:
            self._file.close()
        elif self.path:
            os.unlink(self.path)
        self._file, self.path = None, ""


def _inline(value: Any) -> bool:
    return isinstance(value, (int, float, str, bytes, bool, type(None)))


_WORKER_SHARED: dict[str, tuple[list[int], list[Any]]] = {}


_RUNNING = [False]  # whether this worker is inside a unit of work (its stop signal raises there)


def _stop_requested(signum: int, frame: Any) -> None:
    """Worker side of :meth:`LocalExecutor.stop`: inside a unit of work, raise so that it aborts
    (its writers remove their partial files); between units, exit at once."""
    if _RUNNING[0]:
        raise WorkerStopped()
    os._exit(0)


def _call_with_shared(fn: Callable[..., Any], key: str, path: str, rest: tuple) -> Any:
    """Worker side: run one unit of work; a stop from the driver ends the worker once the unit
    has aborted."""
    _RUNNING[0] = True
    try:
        return _call(fn, key, path, rest)
    except WorkerStopped:
        os._exit(0)
    finally:
        _RUNNING[0] = False


def _call(fn: Callable[..., Any], key: str, path: str, rest: tuple) -> Any:
    """Put the shared arguments (loaded once per worker and call) back in place and call `fn`."""
    if not key:
        return fn(*rest)
    if key not in _WORKER_SHARED:
        _WORKER_SHARED.clear()  # one call's plan at a time
        with open(path, "rb") as fh:
            _WORKER_SHARED[key] = pickle.load(fh)
    positions, values = _WORKER_SHARED[key]
    args = list(rest)
    for pos, value in zip(positions, values):
        args.insert(pos, value)
    return fn(*args)


def _start_worker(progress: Any) -> None:
    """Worker initializer: die with the driver, send per-batch progress to it, no pandas unless
    a stage imports it (curate/lean_imports.py)."""
    from curate.lean_imports import answer_pandas_probe

    _die_with_parent()
    batches.forward_to(progress)
    answer_pandas_probe()


def _die_with_parent() -> None:
    """Worker initializer: on Linux, ask the kernel to SIGKILL this worker when the process that
    started it dies, so that a crashed or killed run leaves no orphaned workers behind. Ctrl-C
    (SIGINT to the whole group) and SIGTERM are the driver's to handle: it stops the run with exit
    130 or 143 after its cleanup, and tells the workers to stop with STOP_SIGNAL."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(STOP_SIGNAL, _stop_requested)
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)
