"""One run's context, made once and carried through the runner: where it writes (the work store,
with the run's storage), how it runs (executor, settings, resume or overwrite), what it says (the
``curate`` logger, the progress line) and what its units of work reported.

Nothing run-wide lives in a module global: the driver passes a :class:`Run` to every runner
function, and the picklable part workers need (the store with its storage, the settings) travels
with the :class:`curate.pipeline.task.RunPlan` each unit of work receives.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from curate.executors.base import Executor
from curate.pipeline.settings import RunSettings
from curate.store.layout import WorkStore
from curate.store.storage import Storage


@dataclass
class Reports:
    """What the run's units of work and combines reported, and the input problems found before."""

    units: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # (unit, task) -> report
    combines: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)  # node -> (seconds, summary)
    file_errors: list[dict[str, Any]] = field(default_factory=list)  # files left out under --on-error skip
    entry_errors: list[dict[str, Any]] = field(default_factory=list)  # input entries that are not shards

    @property
    def bad_files(self) -> set[str]:
        return {e["file"] for e in self.file_errors}

    def ordered_keys(self) -> list[tuple[str, int]]:
        """Reports in task order, then pass order (the read first): errors as the input has them."""
        from curate.pipeline.graph import READ_NODE

        return sorted(self.units, key=lambda key: (key[1], 0 if key[0] == READ_NODE else 1))

    def errors(self) -> list[dict[str, Any]]:
        """Every error found: input entries first, then each task's rows and files in input order."""
        return self.entry_errors + [e for key in self.ordered_keys() for e in self.units[key]["errors"]]


@dataclass
class Run:
    """The context of one run (see the module docstring)."""

    store: WorkStore
    executor: Executor
    settings: RunSettings
    resume: bool = False
    overwrite: bool = False
    progress: Any = None  # a curate.pipeline.progress.Progress, or None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("curate"))
    reports: Reports = field(default_factory=Reports)
    started: float = field(default_factory=time.time)

    @property
    def storage(self) -> Storage:
        return self.store.storage
