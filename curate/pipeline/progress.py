"""Progress of a run: one tqdm bar over the whole run, advanced per batch, with its ETA, and a bar
per combine step that fans out (tqdm.auto: a notebook widget under Jupyter, a text bar elsewhere).

The run's bar counts input bytes: every pass reads each task's input once (or the rows it became),
so the run's total is passes x input bytes. A task in flight is credited by the rows its batches
reported (:mod:`curate.executors.batches`) over the rows it holds: known once any unit of the task
reported its ``docs_in``, else estimated from the bytes per row of the tasks finished so far; a
finished task is credited its whole size. What the run says goes to the ``curate`` logger; the bars
sit beside it, on stderr (or in the notebook).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm.auto import tqdm

from curate.executors import batches

IN_FLIGHT_CAP = 0.99  # a running task never counts as done before its report arrives
COMBINE_JOB = -1  # the task index of a report that a combine job ended


class Progress:
    """The run's progress bar; the runner calls :meth:`start_run`, then per pass :meth:`start`,
    :meth:`advance` per finished task and :meth:`finish`, :meth:`combine` around a combine step,
    and :meth:`close` at the end."""

    def __init__(self, stream: TextIO | None = None, interval: float | None = None, live: bool | None = None) -> None:
        """Bars on `stream` (stderr), redrawn at most every `interval` seconds; `live` bars (default:
        on a terminal or in a notebook), else a plain ``progress:`` line every `interval` (10 s)."""
        self.stream = stream or sys.stderr
        tty = getattr(self.stream, "isatty", lambda: False)()
        # a terminal or a notebook gets live bars; a pipe or a log file a plain line now and then
        self.live = live if live is not None else tty or "ipykernel" in sys.modules
        self.interval = interval if interval is not None else (0.2 if self.live else 10.0)
        self.last_line = 0.0
        self.bar: Any = None
        self.job_bar: Any = None
        self.sizes: dict[int, int] = {}
        self.rows: dict[int, int] = {}  # rows a task holds, once a report said
        self.running: dict[int, int] = {}  # rows reported so far by the tasks in flight
        self.finished_bytes = 0
        self.finished_rows = 0

    def _bar(self, **kwargs: Any) -> Any:
        return tqdm(file=self.stream, mininterval=self.interval, dynamic_ncols=True, disable=not self.live, **kwargs)

    def start_run(self, passes: int, tasks: list) -> None:
        """A bar over `passes` passes of `tasks`."""
        self.sizes = {t.index: max(1, t.nbytes) for t in tasks}
        self.bar = self._bar(total=passes * sum(self.sizes.values()), unit="B", unit_scale=True, desc="run")
        self.started = time.monotonic()

    def start(self, label: str, todo: list, tasks: list) -> None:
        """A pass begins with `todo` (plan, unit, task, ...) items; the tasks it skips (done by an
        earlier, resumed run) are credited at once."""
        if self.bar is None:  # a caller that did not announce the run: one pass
            self.start_run(1, [tasks[t[2]] for t in todo])
        units = {t[1] for t in todo}
        skipped = sum(self.sizes.get(t.index, 0) for t in tasks) * len(units) - sum(self.sizes[t[2]] for t in todo)
        self.finished_bytes += max(0, skipped)
        self.running = {}
        self.bar.set_description(label[:60], refresh=False)
        self._show()

    def batch(self, task: int, rows: int) -> None:
        """`rows` more rows of `task` are done, or (`task` COMBINE_JOB) a combine job ended (from
        :mod:`curate.executors.batches`)."""
        if task == COMBINE_JOB:
            if self.job_bar is not None:
                self.job_bar.update(rows)
            return
        self.running[task] = self.running.get(task, 0) + rows
        self._show()

    def advance(self, report: dict[str, Any]) -> None:
        """A task finished its unit (its report)."""
        task = report.get("task")
        self.running.pop(task, None)
        stats = report.get("stats") or []
        if stats and task is not None:
            self.rows[task] = max(self.rows.get(task, 0), int(stats[0].get("docs_in", 0)))
            self.finished_rows += self.rows[task]
        self.finished_bytes += self.sizes.get(task, 0)
        self._show()

    def _credit(self, task: int, rows: int) -> float:
        size = self.sizes.get(task, 0)
        held = self.rows.get(task) or (size * self.finished_rows / self.finished_bytes
                                       if self.finished_rows and self.finished_bytes else 0)
        return size * min(IN_FLIGHT_CAP, rows / held) if held else 0.0

    def _show(self) -> None:
        done = self.finished_bytes + sum(self._credit(t, r) for t, r in self.running.items())
        self.bar.n = min(self.bar.total, int(done))
        if self.live:
            self.bar.refresh() if self.bar.n >= self.bar.total else self.bar.update(0)
            return
        now = time.monotonic()
        if now - self.last_line >= self.interval:
            self.last_line = now
            meter = self.bar.format_meter(self.bar.n, self.bar.total, now - self.started, unit="B", unit_scale=True,
                                          prefix=getattr(self.bar, "desc", ""), ncols=0)
            self.stream.write(f"progress: {meter}\n")
            self.stream.flush()

    def finish(self) -> None:
        """A pass ended."""
        self.running = {}
        self._show()

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Receive per-batch reports (this process's and the pool workers') while the block runs."""
        with batches.listen(self.batch):
            yield

    def combine_map(self, name: str, map_fn: Callable[[Callable[[Any], Any], list[Any]], list[Any]]
                    ) -> Callable[[Callable[[Any], Any], list[Any]], list[Any]]:
        """`map_fn` (a combine step's fan-out) with a bar of its own, advanced as each job ends
        (in whichever process it runs), with its ETA."""

        def tracked(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
            self.job_bar = self._bar(total=len(items), unit="job", desc=f"combine {name}", leave=False)
            try:
                return map_fn(_Reporting(fn), items)
            finally:
                self.job_bar.close()
                self.job_bar = None

        return tracked

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Reporting:
    """A combine job that reports its end (picklable: it travels to the workers)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, item: Any) -> Any:
        result = self.fn(item)
        batches.report(COMBINE_JOB, 1)
        return result
