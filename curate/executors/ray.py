"""The Ray executor: the runner's units of work as Ray tasks, on a local Ray or a cluster.

Each unit (one shard task of one pass, or one item of a combine step's fan-out) is a Ray task
that needs one CPU; the worker reads and writes its Parquet files itself, so only small reports
travel back to the driver. Arguments shared by every unit (the RunPlan) go into the object store
once. At most 2 x workers units are in flight and results stream back as they complete, so the
runner writes progress and done markers as on the local executor, and `--resume` works the same.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from curate.errors import ConfigError
from curate.executors.base import Executor, register

INSTALL_HINT = "the ray executor needs Ray: pip install 'curate[ray]' (or pip install 'ray[default]')"
IN_FLIGHT_PER_WORKER = 2
RAY_ADDRESS_ENV = "RAY_ADDRESS"
# Values this cheap to pickle are sent inline with each task, never put into the object store.
_INLINE_TYPES = (int, float, str, bytes, bool, type(None))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Body of every Ray task. It runs in the worker's own directory: the driver resolved every
    local path to an absolute one and passes URIs as they are, so no node needs the driver's
    working directory (nor any directory shared with it: data and stage files can live on an
    object store). Object-store arguments arrive already resolved to their values."""
    return fn(*args)


def worker_pythonpath() -> str:
    """The driver's import path, so that workers of a local Ray import what the driver imports
    (curate from a checkout, stage classes defined in a test module or a user script)."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    extra = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(dict.fromkeys([*paths, *filter(None, extra.split(os.pathsep))]))


def start_local_ray(cpus: int) -> None:
    """Start a private single-node Ray on loopback with `cpus` CPUs, no dashboard, no usage stats.

    Ray's node processes, and so its workers, inherit this process's environment: PYTHONPATH is
    set to the driver's import path while they start (cheaper than a runtime_env, which makes
    Ray start a separate worker pool for the job), then restored."""
    ray = _import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home (no network at run time)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = worker_pythonpath()
    # Ray's start-up warnings (e.g. that it enabled token authentication) are not the user's
    # business for a private loopback instance: keep stderr for curate's own messages.
    ray_logger = logging.getLogger("ray")
    saved_level = ray_logger.level
    ray_logger.setLevel(logging.ERROR)
    try:
        # address="local": a new private instance, never a cluster that `ray start` once recorded
        # in /tmp/ray/ray_current_cluster (which plain ray.init() would try to join).
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=False, _node_ip_address="127.0.0.1")
    finally:
        ray_logger.setLevel(saved_level)
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@contextmanager
def existing_working_directory() -> Iterator[None]:
    """Run the body (ray.init) from the temp directory when this process's working directory was
    deleted, then come back to it. Ray's ray.init reads the working directory (os.getcwd) to put
    it on the workers' import path, and a local Ray's node processes start in it; a deleted one
    makes both fail with FileNotFoundError. curate never needs it: the driver resolves local
    paths to absolute ones and passes URIs as they are. Coming back keeps a later relative path
    failing as it would have, instead of silently naming a file in the temp directory."""
    try:
        os.getcwd()
    except FileNotFoundError:
        here = os.open(".", os.O_RDONLY)  # the deleted directory: still openable while we are in it
        try:
            os.chdir(tempfile.gettempdir())
            yield
        finally:
            os.fchdir(here)
            os.close(here)
    else:
        yield


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at HOST:PORT: ray.init would retry connecting for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # 'auto' or a ray:// client address: Ray resolves and reports those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot join the Ray cluster at '{address}': nothing answers there ({exc}); "
                          "start one with `ray start --head` or fix --executor-option address=...") from None


@register
class RayExecutor(Executor):
    """Runs units of work as Ray tasks (one CPU each).

    Without `address` (nor RAY_ADDRESS in the environment, as set for a `ray job submit` driver),
    starts a local Ray with `workers` CPUs (default: cores) and shuts it down in close(). With `address` ('auto' or HOST:PORT) joins that cluster, where `workers` defaults
    to the cluster's CPUs; every node must have curate (and any custom stage's module) installed.
    If Ray is already initialized in this process (e.g. by the user's own job), it is used as is.
    """

    name = "ray"
    help = "Ray tasks, on a private local Ray or a cluster (object storage for data: nothing else shared)."
    options = {"address": "Ray cluster to join ('auto' or HOST:PORT); default: RAY_ADDRESS, else a private "
                          "local Ray with --workers CPUs."}
    extra = "ray"

    @classmethod
    def available(cls) -> bool:
        import importlib.util

        return importlib.util.find_spec("ray") is not None

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        ray = _import_ray()
        address = address or os.environ.get(RAY_ADDRESS_ENV) or None
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            with existing_working_directory():
                if address:
                    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                    check_reachable(address)
                    try:
                        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                                 configure_logging=False)
                    except ConnectionError as exc:
                        raise ConfigError(f"cannot join the Ray cluster at '{address}': {exc}") from None
                else:
                    start_local_ray(max(1, workers or os.cpu_count() or 1))
            self._owns_ray = True
        cluster_cpus = int(ray.cluster_resources().get("CPU", 0))
        if cluster_cpus < 1:
            raise ConfigError("the Ray cluster has no CPUs to run tasks on")
        self.workers = max(1, workers or cluster_cpus)
        self._remote = ray.remote(num_cpus=1)(_call)
        self._refs: dict[int, tuple[Any, Any]] = {}  # id(shared argument) -> (argument, ObjectRef)

    def _shared(self, items: list[tuple]) -> list[bool]:
        """Which argument positions hold the very same non-trivial object in every item."""
        if len(items) < 2:
            return [False] * (len(items[0]) if items else 0)
        first = items[0]
        return [not isinstance(a, _INLINE_TYPES) and not callable(a) and all(it[i] is a for it in items)
                for i, a in enumerate(first)]

    def _ref(self, obj: Any) -> Any:
        """The object-store reference of `obj`, put once per executor (the plan serves every pass)."""
        key = id(obj)
        if key not in self._refs:
            self._refs[key] = (obj, self._ray.put(obj))
        return self._refs[key][1]

    def imap(self, fn: Callable[..., Any], items: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        ray = self._ray
        shared = self._shared(items)
        queue = list(reversed(items))
        pending: dict[Any, tuple] = {}
        limit = IN_FLIGHT_PER_WORKER * self.workers
        try:
            while queue or pending:
                while queue and len(pending) < limit:
                    args = queue.pop()
                    sent = [self._ref(a) if s else a for a, s in zip(args, shared)]
                    pending[self._remote.remote(fn, *sent)] = args
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    args = pending.pop(ref)
                    yield args, self._get(ref)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise

    def _get(self, ref: Any) -> Any:
        """The task's result; a failed task raises the worker's own exception (e.g. an InputError
        naming file and row), not Ray's wrapper, so the CLI reports it as on the local executor."""
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except (self._ray.exceptions.WorkerCrashedError, self._ray.exceptions.NodeDiedError) as exc:
            from curate.errors import WorkerLost

            raise WorkerLost(f"a Ray worker died ({type(exc).__name__})") from None

    def close(self) -> None:
        self._refs.clear()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False
