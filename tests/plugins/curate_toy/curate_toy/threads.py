"""An executor in one file: units of work on a pool of threads in this process.

Units of work run the same code on any executor, so the output is the same as the local
executor's, byte for byte. Threads share this process's memory, so a run may write OUTPUT to
``memory://``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from curate.executors.base import Executor


class ThreadExecutor(Executor):
    name = "threads"
    help = "A pool of threads in this process (a test plugin)."
    options = {"prefix": "name prefix of the pool's threads"}

    def __init__(self, workers: int | None = None, prefix: str = "curate") -> None:
        self.workers = max(1, workers or 2)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=prefix)

    @property
    def in_process(self) -> bool:
        return True

    def imap(self, fn: Callable[..., Any], items: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        pending: dict[Future, tuple] = {self._pool.submit(fn, *args): args for args in items}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
