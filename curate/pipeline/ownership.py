"""A run owns its output directory: an ownership marker, and a lease held while it runs.

- The **marker** ``OUTPUT/_curate/run.json`` is written when a run first claims a directory
  (outside the work folder, so cleaning it keeps the marker). It records the layout version and
  the names the run creates at the top of OUTPUT (``_curate``, ``_SUCCESS``, its sink folders),
  written before any of them. ``--overwrite`` and ``--resume`` refuse a non-empty directory
  without it, and ``--overwrite`` removes only the names it records: curate never deletes or
  rewrites files it did not make. The wipe removes ``_SUCCESS`` first and replaces the marker
  last, so a wipe killed half-way leaves a directory the next ``--overwrite`` finishes.
- The **lease** ``OUTPUT/_curate/lease.json`` (holder id, host, pid, start, heartbeat, ttl) is taken
  before any work and renewed by a heartbeat thread every ``interval`` seconds; it is released at
  the end. A lease whose heartbeat is older than its ttl (3 intervals), or whose holder process
  is gone on this host, is stale: the next run says so and takes it over. Any run on a directory
  whose lease is live is refused with exit 2, naming the holder.

Taking a lease works on any filesystem of the work store: a fresh lease on the local disk is
created with link(2), which fails if the name exists (exactly one of two runs started at once wins),
on S3 with a conditional PUT (``If-None-Match: *``, the same guarantee); elsewhere, and when taking
over a stale lease, the run checks, writes its record, waits ``settle`` seconds and reads it
back, and proceeds only if the record is still its own (last writer wins, every other writer
sees it and refuses). The heartbeat also notices a lease that was taken away (the directory
wiped, another run took over after this one stalled) and the run then stops with exit 2.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from curate import __version__
from curate.errors import ConfigError
from curate.faults import checkpoint
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


@dataclass
class LeaseRecord:
    holder: str
    host: str
    pid: int
    started: float
    heartbeat: float
    ttl: float

    def age(self, now: float | None = None) -> float:
        return (now or time.time()) - self.heartbeat

    def is_stale(self, now: float | None = None) -> tuple[bool, str]:
        """(stale, why): too old a heartbeat, or its process is gone on this host."""
        if self.age(now) > self.ttl:
            return True, f"its last heartbeat was {self.age(now):.0f} s ago (ttl {self.ttl:.0f} s)"
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return True, f"its process {self.pid} on this host is gone"
        return False, ""

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host}, running since {since}, last heartbeat {self.age():.0f} s ago"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _interval() -> float:
    try:
        return max(0.05, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


class Lease:
    """This run's hold on OUTPUT; a context manager that renews it in the background."""

    def __init__(self, store: WorkStore) -> None:
        self.store = store
        self.path = store.lease
        interval = _interval()
        now = time.time()
        self.record = LeaseRecord(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now, 3 * interval)
        self.interval = interval
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- taking ---------------------------------------------------------------------------
    def read(self, attempts: int = READ_ATTEMPTS) -> LeaseRecord | None:
        """The lease on OUTPUT, or None when there is none. A storage error that is not "no such
        file" (a timeout, a dropped connection to an object store) is retried with backoff and then
        raised: it must never read as a removed lease, which stops the run."""
        files = self.store.files
        for attempt in range(attempts):
            try:
                return LeaseRecord(**json.loads(files.read_bytes(self.path)))
            except FileNotFoundError:
                return None
            except (ValueError, TypeError):  # not a lease record
                return None
            except OSError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.25 * 2 ** attempt)
        return None

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
        files = self.store.files
        files.mkdir(self.store.curate_dir)
        data = json.dumps(asdict(self.record)).encode()
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
        self._thread = threading.Thread(target=self._beat, name="curate-lease", daemon=True)
        self._thread.start()

    # ---- holding --------------------------------------------------------------------------
    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                current = self._holder_now()
            except OSError as exc:  # storage unreachable for now: the next beat looks again
                log.warning("lease heartbeat could not read the lease: %s", exc)
                continue
            if current is None or current.holder != self.record.holder:
                self.lost = ("the output directory's lease was removed" if current is None else
                             f"another run took the output directory over ({current.describe()})")
                return
            self.record.heartbeat = time.time()
            try:
                self.store.files.write_bytes(self.path, json.dumps(asdict(self.record)).encode())
            except OSError as exc:  # a transient storage error: the next beat tries again
                log.warning("lease heartbeat failed: %s", exc)

    def _holder_now(self) -> LeaseRecord | None:
        """The lease as it stands; a lease that reads as missing or as another run's is read once
        more after the settle time before the run believes it (an object store may answer one
        read of an object being overwritten with "not found")."""
        current = self.read()
        if current is None or current.holder != self.record.holder:
            time.sleep(SETTLE_SECONDS)
            current = self.read()
        return current

    def check(self) -> None:
        """Raise LeaseLost if the heartbeat found the lease taken away."""
        if self.lost is not None:
            raise LeaseLost(f"{self.store.display}: {self.lost}; this run stopped without finishing")
        current = self._holder_now()
        if current is None or current.holder != self.record.holder:
            self.lost = "the output directory's lease was removed" if current is None else "another run took it over"
            raise LeaseLost(f"{self.store.display}: {self.lost}; this run stopped without finishing")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        current = self.read()
        if current is not None and current.holder == self.record.holder:
            self.store.files.delete(self.path)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def claim(store: WorkStore, input_path: str | Path, resume: bool, overwrite: bool, names: list[str]) -> Lease:
    """Check that this run may use OUTPUT, take its lease, and prepare it (wipe on --overwrite).
    `names` are the names the run creates at the top of OUTPUT (curate.store.layout.top_names).

    Refused (ConfigError, exit 2): OUTPUT equal to, inside or containing the input; a non-empty
    OUTPUT without curate's marker under --overwrite or --resume; a run of the layout before
    version 2; a sink folder that exists but no curate run made; a non-empty OUTPUT without either
    flag; any OUTPUT whose lease is live.
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
