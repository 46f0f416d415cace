"""Per-batch progress across processes: the code running a task calls :func:`report` after each
batch; the driver receives the reports through :func:`listen`. In the driver's own process (one
worker, or a combine run in process) a report goes straight to the listener; a local pool's
workers forward theirs through a queue the executor drains (:func:`forward_to`, :func:`drain`).
Elsewhere (Ray workers) a report goes nowhere and the progress advances per finished task."""

from __future__ import annotations

import queue as queue_mod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[int, int], None]  # (task index, rows of the batch just done)

_listener: Listener | None = None
_queue: Any = None  # in a pool worker: the multiprocessing queue to the driver


def report(task: int, rows: int) -> None:
    """Say that `rows` more rows of task `task` went through its unit (cheap; never blocks)."""
    if _listener is not None:
        _listener(task, rows)
    elif _queue is not None:
        _queue.put_nowait((task, rows))


@contextmanager
def listen(listener: Listener) -> Iterator[None]:
    """Deliver the reports of this process, and those drained from workers, to `listener`."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def forward_to(queue: Any) -> None:
    """Worker side: send this process's reports to the driver through `queue`. A worker killed
    mid-put must not hold up the others or the pool's shutdown, so its feeder thread is not
    waited for at exit."""
    global _queue
    _queue = queue
    queue.cancel_join_thread()


def drain(queue: Any) -> None:
    """Driver side: deliver every report waiting in `queue` to the listener (without blocking)."""
    while True:
        try:
            task, rows = queue.get_nowait()
        except (queue_mod.Empty, OSError, EOFError):
            return
        if _listener is not None:
            _listener(task, rows)
