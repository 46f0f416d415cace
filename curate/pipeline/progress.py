"""Progress reporting: a one-line bar on a terminal, plain log lines otherwise (to stderr)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """Docs and MB per second, tasks done and ETA for the pass that is running."""

    def __init__(self, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if not self.tty else 0.2

    def start(self, label: str, todo: list, tasks: list) -> None:
        self.label = label
        self.total = len(todo)
        self.total_bytes = sum(tasks[t[2]].nbytes for t in todo) or 1
        self.done = 0
        self.docs = 0
        self.bytes = 0
        self.t0 = time.perf_counter()
        self.last = 0.0

    def advance(self, report: dict[str, Any]) -> None:
        self.done += 1
        stats = report.get("stats") or []
        if stats:
            self.docs += stats[0]["docs_in"]
            self.bytes += stats[0]["bytes_in"]
        now = time.perf_counter()
        if now - self.last >= self.interval or self.done == self.total:
            self.last = now
            self._emit(now - self.t0)

    def _emit(self, elapsed: float) -> None:
        elapsed = max(elapsed, 1e-9)
        frac = self.done / self.total
        eta = elapsed * (1 - frac) / frac if frac else float("inf")
        msg = (f"{self.done}/{self.total} tasks  {self.docs / elapsed:,.0f} docs/s  "
               f"{self.bytes / 1e6 / elapsed:,.1f} MB/s  elapsed {elapsed:,.1f}s  ETA {eta:,.0f}s")
        if self.tty:
            width = 24
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            self.stream.write(f"\r[{bar}] {msg}\033[K")
        else:
            self.stream.write(f"progress: {msg}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
