"""A run owns its output directory: an ownership marker, and a lease held while it runs.

- The **marker** ``OUTPUT/_curate/run.json`` is written when a run first claims a directory
  (outside the work folder, so cleaning it keeps the marker). It records the layout version and
  the names the run creates at the top of OUTPUT (``_curate``, ``_SUCCESS``, its sink folders),
  written before any of them. ``--overwrite`` and ``--resume`` refuse a non-empty directory
  without it, and ``--overwrite`` removes only the names it records: curate never deletes or
  rewrites files it did not make. The wipe removes ``_SUCCESS`` first and replaces the marker
  last, so a wipe killed half-way leaves a directory the next ``--overwrite`` finishes.
- The **lease** ``OUTPUT/_curate/lease.json`` (holder id, run id, host, pid, start, heartbeat, ttl, and
  where the pid means something: kernel boot id, PID namespace, the process's start time) is
  taken before any work and renewed by a heartbeat thread every ``interval`` seconds; it is
  released at the end. A lease is stale when its heartbeat is older than its ttl (3 intervals);
  that alone decides, wherever the holder runs. One more signal counts only where it can be
  trusted: when the holder ran under the same kernel boot and in the same PID namespace as the
  reader (both read from ``/proc``, never assumed from the host name), a holder process that is
  gone (or whose pid now belongs to a process started at another time) makes the lease stale at
  once, so a killed run is resumed without waiting out the ttl. A run in another container with
  the same host name, or on a cloned machine, is judged by its heartbeat only. The next run says
  why a lease is stale and takes it over. Any run on a directory whose lease is live is refused
  with exit 2, naming the holder.
- While a run holds the lease, every file it publishes or deletes under OUTPUT (shards, streams,
  state, markers; in the driver and in every worker) is published only after a look at the lease
  (:class:`HeldLease`, the work store's publish guard): a run that was paused past its ttl and
  taken over publishes nothing more and stops with exit 2.

Taking a lease works on any filesystem of the work store: a fresh lease on the local disk is
created with link(2), which fails if the name exists (exactly one of two runs started at once wins),
on S3 with a conditional PUT (``If-None-Match: *``, the same guarantee); elsewhere, and when taking
over a stale lease, the run checks, writes its record, waits ``settle`` seconds and reads it
back, and proceeds only if the record is still its own (last writer wins, every other writer
sees it and refuses). The heartbeat also notices a lease that was taken away (the directory
wiped, another run took over after this one stalled) and the run then stops with exit 2.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from curate import __version__
from curate.errors import ConfigError
from curate.faults import checkpoint
from curate.io.read import Task
from curate.store.files import Files
from curate.store.layout import (
    CURATE_DIR,
    LAYOUT_VERSION,
    LEASE,
    LEGACY,
    MARKER,
    SUCCESS,
    WorkStore,
)
from curate.store.storage import parse

log = logging.getLogger("curate")

INTERVAL_ENV = "CURATE_LEASE_INTERVAL"  # seconds between heartbeats (tests shorten it)
DEFAULT_INTERVAL = 10.0
SETTLE_SECONDS = 0.5
READ_ATTEMPTS = 4  # a lease read that fails with a storage error is tried again 3 times (0.25, 0.5, 1 s)


class LeaseLost(ConfigError):
    """Another process took this run's output directory away while it ran."""


@dataclass(frozen=True)
class ProcessIdentity:
    """Where a pid means something: the kernel boot (``/proc/sys/kernel/random/boot_id``) and the
    PID namespace (``/proc/self/ns/pid``), plus a process's start time in clock ticks since boot
    (``/proc/PID/stat`` field 22, proc(5)), which tells a process from a later one given its pid.
    Empty where ``/proc`` does not say (another OS, a ``/proc`` of another namespace)."""

    boot: str = ""
    pid_ns: str = ""
    pid_start: int = 0


@functools.cache
def this_process() -> ProcessIdentity:
    """This process's identity, read once."""
    try:
        if _stat_field(Path("/proc/self/stat"), 0) != os.getpid():  # a /proc of another PID namespace
            return ProcessIdentity()
        return ProcessIdentity(Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
                               os.readlink("/proc/self/ns/pid"), _stat_field(Path("/proc/self/stat"), 21))
    except (OSError, ValueError, IndexError):
        return ProcessIdentity()


def _stat_field(path: Path, index: int) -> int:
    """Field `index` (0-based) of a /proc/PID/stat line; the command name, in parentheses, may
    hold spaces, so fields after it are counted from its closing parenthesis."""
    text = path.read_text()
    if index == 0:
        return int(text.split(" ", 1)[0])
    return int(text[text.rindex(")") + 2:].split()[index - 2])


def _process_gone(pid: int, start: int) -> bool:
    """Whether no process started at `start` holds `pid` (in this PID namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        return _stat_field(Path(f"/proc/{pid}/stat"), 21) != start
    except (OSError, ValueError, IndexError):
        return True  # gone between the two looks


@dataclass
class LeaseRecord:
    holder: str
    host: str
    pid: int
    started: float
    heartbeat: float
    ttl: float
    run: str = ""  # the run id (curate.pipeline.manifest), once the run knows it
    boot: str = ""
    pid_ns: str = ""
    pid_start: int = 0

    def age(self, now: float | None = None) -> float:
        return (now or time.time()) - self.heartbeat

    def is_stale(self, now: float | None = None) -> tuple[bool, str]:
        """(stale, why): a heartbeat older than the ttl; or, where this process sees the holder's
        processes (same boot, same PID namespace, as the record says), the holder gone."""
        if self.age(now) > self.ttl:
            return True, f"its last heartbeat was {self.age(now):.0f} s ago (ttl {self.ttl:.0f} s)"
        me = this_process()
        if (self.boot and self.pid_ns and (self.boot, self.pid_ns) == (me.boot, me.pid_ns)
                and _process_gone(self.pid, self.pid_start)):
            return True, f"its process {self.pid} on this host is gone"
        return False, ""

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host}, running since {since}, last heartbeat {self.age():.0f} s ago"


def _interval() -> float:
    try:
        return max(0.05, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def read_lease(files: Files, path: str, attempts: int = READ_ATTEMPTS) -> LeaseRecord | None:
    """The lease at `path`, or None when there is none. A storage error that is not "no such
    file" (a timeout, a dropped connection to an object store) is retried with backoff and then
    raised: it must never read as a removed lease, which stops the run."""
    known = {f.name for f in fields(LeaseRecord)}
    for attempt in range(attempts):
        try:
            data = json.loads(files.read_bytes(path))
            return LeaseRecord(**{k: v for k, v in data.items() if k in known})
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, AttributeError):  # not a lease record
            return None
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25 * 2 ** attempt)
    return None


def holder_now(files: Files, path: str, holder: str) -> LeaseRecord | None:
    """The lease as it stands; one that reads as missing or as another run's is read once more
    after the settle time before it is believed (an object store may answer one read of an
    object being overwritten with "not found")."""
    current = read_lease(files, path)
    if current is None or current.holder != holder:
        time.sleep(SETTLE_SECONDS)
        current = read_lease(files, path)
    return current


def lost_reason(current: LeaseRecord | None) -> str:
    return ("the output directory's lease was removed" if current is None else
            f"another run took the output directory over ({current.describe()})")


@dataclass(frozen=True)
class HeldLease:
    """The guard of a run's work store (:attr:`curate.store.files.Files.guard`): before a file is
    published or deleted under OUTPUT, the lease must still be this run's, else LeaseLost (exit 2)
    and a file being published is thrown away. Picklable: workers check the lease themselves, so a worker of a
    run that was paused and taken over publishes nothing either. It costs one read of the small
    lease file per file published."""

    files: Files  # unguarded: reading the lease
    path: str
    holder: str
    display: str

    def __call__(self) -> None:
        current = holder_now(self.files, self.path, self.holder)
        if current is None or current.holder != self.holder:
            raise LeaseLost(f"{self.display}: {lost_reason(current)}; this run stopped without finishing")


class Lease:
    """This run's hold on OUTPUT; a context manager that renews it in the background. Its holder
    id is the store's attempt id; while it is held the store's files publish through
    :class:`HeldLease`."""

    def __init__(self, store: WorkStore) -> None:
        self.store = store
        self.files = store.files  # the lease's own reads and writes, never guarded
        self.path = store.lease
        interval = _interval()
        now = time.time()
        me = this_process()
        self.record = LeaseRecord(store.attempt, socket.gethostname(), os.getpid(), now, now, 3 * interval,
                                  boot=me.boot, pid_ns=me.pid_ns, pid_start=me.pid_start)
        self.interval = interval
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- taking ---------------------------------------------------------------------------
    def read(self, attempts: int = READ_ATTEMPTS) -> LeaseRecord | None:
        return read_lease(self.files, self.path, attempts)

    def refuse_if_live(self, quiet: bool = False) -> LeaseRecord | None:
        """Raise if a live run holds OUTPUT; return a stale record (to take over), else None."""
        current = self.read()
        if current is None:
            return None
        stale, why = current.is_stale()
        if not stale:
            raise ConfigError(f"{self.store.display} is in use by another curate run ({current.describe()}); "
                              "wait for it to finish, or stop it")
        if not quiet:
            log.warning("taking over a stale lease on %s: %s (%s)", self.store.display, why, current.describe())
        return current

    def acquire(self) -> None:
        stale = self.refuse_if_live()
        files = self.files
        files.mkdir(self.store.curate_dir)
        data = self._data()
        created = files.create_exclusive(self.path, data) if stale is None else None
        if created is False:
            self.refuse_if_live()  # someone got there first: refused unless it is already stale
            raise ConfigError(f"{self.store.display} is in use by another curate run")
        if created is None:
            files.write_bytes(self.path, data)
            time.sleep(SETTLE_SECONDS)
            now = self.read()
            if now is None or now.holder != self.record.holder:
                holder = now.describe() if now is not None else "unknown"
                raise ConfigError(f"{self.store.display} was claimed by another curate run at the same time "
                                  f"({holder})")
        self.store.files = files.guarded(HeldLease(files, self.path, self.record.holder, self.store.display))
        self._thread = threading.Thread(target=self._beat, name="curate-lease", daemon=True)
        self._thread.start()

    def _data(self) -> bytes:
        return json.dumps(asdict(self.record)).encode()

    # ---- holding --------------------------------------------------------------------------
    def name_run(self, run_id: str) -> None:
        """Record the run id in the lease (known once the manifest is open)."""
        self.record.run = run_id
        self._renew()

    def _renew(self) -> None:
        current = self._holder_now()
        if current is None or current.holder != self.record.holder:
            self.lost = lost_reason(current)
            raise LeaseLost(f"{self.store.display}: {self.lost}; this run stopped without finishing")
        self.record.heartbeat = time.time()
        self.files.write_bytes(self.path, self._data())

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._renew()
            except LeaseLost:
                return
            except OSError as exc:  # a transient storage error: the next beat tries again
                log.warning("lease heartbeat failed: %s", exc)

    def _holder_now(self) -> LeaseRecord | None:
        return holder_now(self.files, self.path, self.record.holder)

    def check(self) -> None:
        """Raise LeaseLost if the heartbeat found the lease taken away."""
        if self.lost is not None:
            raise LeaseLost(f"{self.store.display}: {self.lost}; this run stopped without finishing")
        current = self._holder_now()
        if current is None or current.holder != self.record.holder:
            self.lost = lost_reason(current)
            raise LeaseLost(f"{self.store.display}: {self.lost}; this run stopped without finishing")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.files = self.files
        current = self.read()
        if current is not None and current.holder == self.record.holder:
            self.files.delete(self.path)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def refuse_inputs_inside(store: WorkStore, tasks: Sequence[Task]) -> None:
    """ConfigError (exit 2) naming the first input file that resolves, through symlinks (a link
    to a file of OUTPUT, or to OUTPUT itself), to a file under OUTPUT: a run must not read what
    it writes, nor --overwrite delete an input."""
    target = parse(store.root_uri or store.root)
    if not target.is_local:
        return
    out = Path(target.path).resolve()
    for path, rel in dict.fromkeys((t.path, t.rel) for t in tasks):  # a file split in tasks: looked at once
        source = parse(path)
        real = Path(source.path).resolve() if source.is_local else None
        if real is not None and out in real.parents:
            raise ConfigError(f"input file {rel} resolves to {real}, inside the output directory "
                              f"{store.display}; a run must not read its own output (--overwrite would delete it)")


def claim(store: WorkStore, input_path: str | Path, resume: bool, overwrite: bool, names: list[str],
          tasks: Sequence[Task] = ()) -> Lease:
    """Check that this run may use OUTPUT, take its lease, and prepare it (wipe on --overwrite).
    `names` are the names the run creates at the top of OUTPUT (curate.store.layout.top_names).

    Refused (ConfigError, exit 2): OUTPUT equal to, inside or containing the input, or an input
    file (`tasks`) that resolves into OUTPUT; a non-empty OUTPUT without curate's marker under
    --overwrite or --resume; a run of the layout before version 2; a sink folder that exists but
    no curate run made; a non-empty OUTPUT without either flag; any OUTPUT whose lease is live.
    """
    lease = Lease(store)
    lease.refuse_if_live(quiet=True)  # first: a live run's directory is refused whatever else it holds
    source, target = parse(input_path), parse(store.root_uri or store.root)
    if source.scheme == target.scheme:
        if source.is_local:
            inp, out = Path(source.path).resolve(), Path(target.path).resolve()
        else:
            inp, out = PurePosixPath("/" + source.path.strip("/")), PurePosixPath("/" + target.path.strip("/"))
        if out == inp or inp in out.parents:
            raise ConfigError(f"output directory {store.display} is inside the input directory {input_path}")
        if out in inp.parents:
            raise ConfigError(f"output directory {store.display} contains the input {input_path}; "
                              "--overwrite would delete it")
    refuse_inputs_inside(store, tasks)
    entries = _entries(store)
    recorded = _recorded_names(store)
    if entries and recorded is None:
        _refuse_unowned(store, entries, resume, overwrite)
    if entries and not (resume or overwrite):
        state = "a finished run" if SUCCESS in entries else "files"
        raise ConfigError(f"output directory {store.display} already holds {state}; pass --resume to continue "
                          "an interrupted run or --overwrite to replace it")
    foreign = sorted(set(names) & (set(entries) - set(recorded or ())))
    if foreign:
        raise ConfigError(f"output directory {store.display} holds {foreign[0]}, which no curate run made there; "
                          "this run writes a sink of that name: rename the sink or choose another --output")
    lease.acquire()
    try:
        if overwrite and recorded is not None:
            _wipe(store, recorded)
        if overwrite or recorded is None or not set(names) <= set(recorded):
            _write_marker(store, sorted(set(names) | set(() if overwrite else recorded or ())))
    except BaseException:
        lease.release()
        raise
    return lease


def _entries(store: WorkStore) -> list[str]:
    """The names at the top of OUTPUT, ``_curate`` left out while it holds nothing but a lease or
    temporary files (a run killed after taking its lease, before its marker was in place)."""
    entries = store.files.listdir(store.root)
    if CURATE_DIR in entries and not store.files.exists(store.marker):
        inside = [e for e in store.files.listdir(store.curate_dir)
                  if f"{CURATE_DIR}/{e}" != LEASE and not e.startswith(".")]  # the lease, temporary files
        if not inside:
            entries = [e for e in entries if e != CURATE_DIR]
    return entries


def _recorded_names(store: WorkStore) -> list[str] | None:
    """The top-level names the marker records (None: no marker)."""
    if not store.files.exists(store.marker):
        return None
    return list(store.files.read_json(store.marker).get("names", []))


def _refuse_unowned(store: WorkStore, entries: list[str], resume: bool, overwrite: bool) -> None:
    """A non-empty OUTPUT without this layout's marker: a run of an older curate, or not curate's."""
    if not (resume or overwrite):
        return
    flag = "--overwrite" if overwrite else "--resume"
    if LEGACY.marker in entries:
        raise ConfigError(f"output directory {store.display} holds a run of an older curate (layout 1: {LEGACY.marker} "
                          f"at the top, its rows beside it); {flag} cannot continue or replace it with layout "
                          f"{LAYOUT_VERSION}: `curate stats` still reads it; delete it yourself or choose another --output")
    raise ConfigError(f"output directory {store.display} holds files that no curate run wrote (no {MARKER}); "
                      f"{flag} refuses to touch them: choose another --output")


def _wipe(store: WorkStore, recorded: list[str]) -> None:
    """Remove what the marker records, in an order that a kill at any point leaves recoverable:
    ``_SUCCESS`` first (a half-wiped run never looks finished), then the work folder (no done
    marker outlives the shards it stands for), the rest of ``_curate/`` but the marker and the
    lease, then the sinks. The caller replaces the marker last."""
    files = store.files
    files.delete(store.success_file)
    files.delete(store.work)
    keep = {MARKER, LEASE}
    for name in files.listdir(store.curate_dir):
        if f"{CURATE_DIR}/{name}" not in keep:
            files.delete(store.path(f"{CURATE_DIR}/{name}"))
            checkpoint("wipe")
    for name in recorded:
        if name not in (CURATE_DIR, SUCCESS):
            files.delete(store.path(name))
            checkpoint("wipe")
    store.wipe_local()


def _write_marker(store: WorkStore, names: list[str]) -> None:
    store.files.write_json(store.marker, {"tool": "curate", "version": __version__, "layout": LAYOUT_VERSION,
                                          "names": names,
                                          "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
