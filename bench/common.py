"""Shared benchmark helpers: cached generated corpora, machine description, timing, peak memory."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))


def scale_arg(default: str = "small") -> str:
    """--scale small|full from argv, else BENCH_SCALE, else small."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["small", "full"], default=os.environ.get("BENCH_SCALE", default))
    return parser.parse_args().scale


def corpus(n_docs: int, seed: int = 1, n_shards: int = 8, fmt: str = "parquet") -> Path:
    """A generated corpus of `n_docs` documents, cached under bench/.cache (git-ignored)."""
    from curate.sample_data import generate

    path = CACHE / f"corpus-{n_docs}-s{seed}-{n_shards}-{fmt}"
    if not (path / "_DONE").exists():
        generate(path, n_docs=n_docs, seed=seed, n_shards=n_shards, fmt=fmt)
        (path / "_DONE").write_text("")
    return path


def machine() -> str:
    """One line: CPU model, cores, memory, Python."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem}, Python {platform.python_version()}"


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - t0


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest wall time of `repeat` calls (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_of_cpu(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of `repeat` calls; CPU is this process's user + system
    time over all its threads (a library that starts threads shows it here)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = min(best, (wall, cpu))
    return best


def versions(*dists: str) -> str:
    """`name version` of each installed distribution, comma-separated (for the record of a run)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in dists:
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def tree_rss(proc: Any) -> int:
    """RSS of the psutil process `proc` and all its children, in bytes (children that exit while
    they are read count as nothing)."""
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class PeakMemory:
    """Peak RSS of this process and all its children, sampled every 20 ms, above a baseline."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.baseline = self._tree_rss()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        return tree_rss(self.proc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())

    @property
    def above_baseline_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stdlib_corpus(n_shards: int = 8) -> tuple[Path, str, int]:
    """The running Python's standard library as a corpus of real long documents, cached under
    bench/.cache: every text file (UTF-8, no NUL byte) below the stdlib directory, site-packages
    and __pycache__ excluded; id = path relative to it, text = the whole file. Source modules,
    tests, licence and data files, with their natural near duplicates (copied test data, generated
    modules, vendored variants). Returns (directory, sha256 of the sorted (path, bytes), documents)."""
    import hashlib
    import sysconfig

    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(sysconfig.get_paths()["stdlib"])
    docs: list[tuple[str, bytes]] = []
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if not f.is_file() or f.is_symlink() or {"site-packages", "__pycache__"} & set(rel.parts):
            continue
        data = f.read_bytes()
        if not data or b"\0" in data:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        docs.append((rel.as_posix(), data))
    digest = hashlib.sha256()
    for rel, data in docs:
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    corpus_hash = digest.hexdigest()
    path = CACHE / f"stdlib-{platform.python_version()}-{corpus_hash[:12]}"
    if not (path / "_DONE").exists():
        path.mkdir(parents=True, exist_ok=True)
        for s in range(n_shards):
            part = docs[s::n_shards]
            pq.write_table(pa.table({"id": [r for r, _ in part], "text": [d.decode("utf-8") for _, d in part]}),
                           path / f"shard-{s:05d}.parquet")
        (path / "_DONE").write_text("")
    return path, corpus_hash, len(docs)


_IO_CHILD = (
    "import atexit, runpy, sys\n"
    "def _io():\n"
    "    with open('/proc/self/io') as fh:\n"
    "        sys.stderr.write('\\n@@io ' + ' '.join(l.replace(': ', '=').strip() for l in fh) + '\\n')\n"
    "atexit.register(_io)\n"
    "sys.argv = ['curate', *sys.argv[1:]]\n"
    "runpy.run_module('curate.cli', run_name='__main__')\n"
)


def run_curate(args: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run the `curate` command in a fresh Python process, as a user would (start-up included):
    wall seconds, CPU seconds (user + system, the process and its workers), and the bytes that
    process passed through read() and write() calls (rchar / wchar of /proc/self/io: files and
    pipes, page cache or not; with one worker that is the whole run; reading Python's own modules
    at start-up is included, see `startup`)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _IO_CHILD, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"curate {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    io = {}
    for line in proc.stderr.splitlines():
        if line.startswith("@@io "):
            io = dict(kv.split("=") for kv in line[5:].split())
    return {"seconds": seconds,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "read": float(io.get("rchar", "nan")), "written": float(io.get("wchar", "nan")), "stderr": proc.stderr}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: say how busy it was)."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


@contextmanager
def s3_server(credential: str = "bench") -> Iterator[str]:
    """A moto S3 API server on loopback in a subprocess, with this process's AWS environment
    (and so its children's) pointed at it: dummy credentials `credential`, AWS_ENDPOINT_URL.
    Yields the endpoint. The benchmarks and the tests' session fixture both use it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": credential, "AWS_SECRET_ACCESS_KEY": credential, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": url}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


class LogClock(logging.Handler):
    """Timestamps every line the run logs on the ``curate`` logger (pass and combine starts), to
    time passes; use as a context manager around a run."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((time.perf_counter(), record.getMessage()))

    def __enter__(self) -> LogClock:
        logger = logging.getLogger("curate")
        self._level = logger.level
        logger.addHandler(self)
        logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: Any) -> None:
        logger = logging.getLogger("curate")
        logger.removeHandler(self)
        logger.setLevel(self._level)

    def map_pass_seconds(self) -> float:
        """Seconds of the pass that reads the input (the map phase: read and the fused map stages)."""
        for i, (t, msg) in enumerate(self.lines):
            if msg.startswith("pass ") and msg.split(": ", 1)[1].startswith(("read ->", "read (")):
                return self.lines[i + 1][0] - t
        raise RuntimeError("the runner logged no read pass")


def run_graph_once(graph: Any, src: Path, out: Path, executor: Any, settings: Any) -> Any:
    """One run of `graph` over `src` into `out` (overwritten) on an existing executor."""
    from curate.pipeline.run import Run
    from curate.pipeline.runner import run_graph
    from curate.store.layout import WorkStore

    run = Run(WorkStore.open(out, settings.storage), executor, settings, overwrite=True)
    return run_graph(graph, src, run)
