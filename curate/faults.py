"""Fault injection for crash tests.

With ``CURATE_FAULT=point:n`` in the environment, the n-th time any process of the run reaches
``checkpoint(point)``, the whole run (its process group) is killed with SIGKILL, as by a crash
or an OOM killer. Occurrences are counted across processes in ``CURATE_FAULT_DIR``. Without the
variable a checkpoint costs one dictionary lookup. Points: ``task_start``, ``shard_write`` (after
a task wrote rows to its temporary shard, before the rename), ``task_done`` (after the done
marker), ``combine`` (state written, not yet marked done), ``combine_map`` (after each fan-out
unit of a combine), ``input_map`` (after each input file's schema or content hash read by a
worker), ``reshape`` (while a reshaping stage such as the sampler writes a shard),
``minhash_band`` (a MinHash band job, its partials copied, before its query). A Ray worker is
its own process group, so in a Ray worker only that worker dies (Ray runs its task again).
"""

from __future__ import annotations

import os
import signal

ENV = "CURATE_FAULT"
ENV_DIR = "CURATE_FAULT_DIR"


def checkpoint(point: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    counter = os.path.join(os.environ.get(ENV_DIR, "."), f"fault-{name}.count")
    fd = os.open(counter, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b".")
    finally:
        os.close(fd)
    if os.path.getsize(counter) == int(nth or 1):
        os.killpg(os.getpgrp(), signal.SIGKILL)
