"""The layout of a run's OUTPUT: the one place that names a path under it.

Every name below is relative to OUTPUT. Sinks hold shards and nothing else, so any reader
(``datasets``, DuckDB, Polars, Spark) pointed at a sink folder reads exactly its rows; everything
else a run writes lives under ``_curate/``::

    data/part-NNNNN.parquet                      the kept rows of a pipeline without ``outputs:``
    <sink>/part-NNNNN.<ext>                      shard N of each sink of ``outputs:``
    _SUCCESS                                     written last, holding the run id: at the top of OUTPUT (where
                                                 Hadoop-style tools wait for it), outside every sink
    _curate/run.json                             the ownership marker: the layout version and the
                                                 names the run created at the top of OUTPUT
    _curate/lease.json                           who holds OUTPUT now
    _curate/stats.json  _curate/errors.jsonl     the run's results
    _curate/rejected/<node>/part-NNNNN.parquet   rows <node> rejected (--keep-rejected)
    _curate/meta/<node>/buckets.json, ...        run metadata a node writes
    _curate/work/manifest.json                   what makes a resumed run the same run
    _curate/work/streams/<stream>/part-NNNNN.parquet  task N's rows of a stream a later unit reads back
    _curate/work/units/<unit>/done/part-NNNNN.json    task N finished <unit>: stats, sink counts, errors
    _curate/work/schedule.json                   the run's passes, units and tasks (for curate stats)
    _curate/work/stages/<node>/partials/part-NNNNN.parquet   a global node's summarize output for task N
    _curate/work/stages/<node>/state/            its combine's output (``<kind>-NNNNN.parquet`` per
                                                 task, ``NAME.json``) and ``_DONE``
    _curate/work/stages/<node>/scratch/          its combine's local files (DuckDB spill, copies),
                                                 under --scratch when OUTPUT is not on the local disk

The duplicate-id check is the built-in global node ``_ids`` (see curate.pipeline.id_check): its
partials, state and done marker live under ``_curate/work/stages/_ids/`` like any other node's.
Reading and writing go through :class:`curate.store.files.Files`; a node's own corner (partials,
state, scratch, meta) is :class:`curate.store.state.StageStore`.

Runs of curate before layout 2 wrote the kept rows at the top of OUTPUT and their own files
beside them (``_stats.json``, ``_meta/``, ``_CURATE_RUN.json``, ...): :data:`LEGACY` names them, so
that the verbs reading a finished run still read such a run and ``--resume`` can refuse it.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from curate.errors import ConfigError
from curate.store.files import Files
from curate.store.storage import READ_ONLY, Storage, parse

LAYOUT_VERSION = 2
POSITION = "_curate_pos"  # a row's position in its origin, kept with streams under work/ for unions

CURATE_DIR = "_curate"  # everything a run writes that is not a sink
DEFAULT_SINK = "data"  # the sink of a pipeline without outputs:
SUCCESS = "_SUCCESS"
MARKER = f"{CURATE_DIR}/run.json"
LEASE = f"{CURATE_DIR}/lease.json"
STATS = f"{CURATE_DIR}/stats.json"
ERRORS = f"{CURATE_DIR}/errors.jsonl"
META = f"{CURATE_DIR}/meta"
REJECTED = f"{CURATE_DIR}/rejected"
WORK = f"{CURATE_DIR}/work"
RUN = "run"  # the key of the run id in the manifest and in every marker


@dataclass(frozen=True)
class LegacyLayout:
    """The names of the layout before version 2 (everything at the top of OUTPUT)."""

    marker: str = "_CURATE_RUN.json"
    stats: str = "_stats.json"
    meta: str = "_meta"


LEGACY = LegacyLayout()


def stats_candidates() -> tuple[str, ...]:
    """Where a finished run's stats may be, relative to OUTPUT: this layout's, then the legacy one."""
    return STATS, LEGACY.stats


def meta_candidates() -> tuple[str, ...]:
    """Where a run's metadata folder may be, relative to OUTPUT: this layout's, then the legacy one."""
    return META, LEGACY.meta


def relative_name(name: str, what: str) -> str:
    """`name` as a relative path that stays in the folder it is joined to (normalized: ``a/../b``
    is ``b``); ConfigError (exit 2) naming `what` for an absolute path, an empty one, or one
    whose ``..`` climbs out."""
    norm = posixpath.normpath(name) if isinstance(name, str) and name else ""
    if not norm or posixpath.isabs(norm) or norm == "." or norm == ".." or norm.startswith("../"):
        raise ConfigError(f"{what} {name!r} must name a file under the output directory (a relative path "
                          "that does not climb out with '..')")
    return norm


def part_path(directory: str, task: int, ext: str = "parquet") -> str:
    return f"{directory}/part-{task:05d}.{ext}"


def part_index(name: str, ext: str = "parquet") -> int | None:
    """The task index of a file name :func:`part_path` makes (``part-00007.json`` -> 7), else None."""
    stem, dot, suffix = name.partition(".")
    digits = stem.removeprefix("part-")
    return int(digits) if dot and suffix == ext and digits != stem and digits.isdigit() else None


def top_names(sinks: list[str] | tuple[str, ...]) -> list[str]:
    """The names a run with these sinks creates at the top of OUTPUT (what ``--overwrite`` removes)."""
    return sorted({CURATE_DIR, SUCCESS, *sinks})


@dataclass
class WorkStore:
    """Paths and I/O of one run's OUTPUT; picklable, so workers get it with their unit of work."""

    root: str
    files: Files
    root_uri: str = ""
    # this process's attempt at the run: the lease's holder id and the scope of per-process caches
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex)
    storage: Storage = field(default_factory=Storage)
    # the run: made when a run starts in an empty OUTPUT, kept by every --resume of it (the
    # manifest holds it, curate.pipeline.manifest); every marker names it, and a run accepts
    # only the markers that name it
    run_id: str = ""

    @classmethod
    def open(cls, uri: str | Path, storage: Storage | None = None) -> WorkStore:
        """The store of OUTPUT `uri`, opened with `storage` (default: the environment's options)."""
        storage = storage or Storage()
        loc = parse(uri)
        if loc.scheme in READ_ONLY:
            raise ConfigError(f"{loc.uri}: {loc.scheme}:// is read only; write the output elsewhere")
        return cls(loc.path.rstrip("/") or "/", storage.files(loc.scheme), root_uri=loc.uri, storage=storage)

    def path(self, rel: str) -> str:
        """The path of `rel` (a name relative to OUTPUT, as the constants of this module)."""
        return f"{self.root}/{rel}"

    @property
    def curate_dir(self) -> str:
        return self.path(CURATE_DIR)

    @property
    def work(self) -> str:
        return self.path(WORK)

    @property
    def in_memory(self) -> bool:
        """Whether the store lives in this process's memory (memory://): no other process sees it."""
        return self.root_uri.startswith("memory://")

    @property
    def display(self) -> str:
        return self.root_uri or self.root

    # ---- final outputs -------------------------------------------------------------------
    def under(self, folder: str, name: str, what: str) -> str:
        """`folder`/`name`, where `name` comes from a pipeline (a sink or node name, a stage
        parameter): refused (ConfigError, exit 2, naming `what`) unless it stays in `folder`, and,
        on the local disk, unless it also resolves (through any symlink already there) under OUTPUT."""
        path = f"{folder}/{relative_name(name, what)}"
        if self.files.is_local and not self.in_memory:
            root = os.path.realpath(self.root)
            if os.path.commonpath([root, os.path.realpath(path)]) != root:
                raise ConfigError(f"{what} {name!r} must name a file under the output directory {self.display} "
                                  f"(it resolves to {os.path.realpath(path)})")
        return path

    def sink_dir(self, name: str) -> str:
        """The folder of sink `name`: shards only (`name`, from the pipeline, must stay in OUTPUT)."""
        return self.under(self.root, name, "sink")

    def rejected(self, node: str, task: int) -> str:
        return part_path(self.under(self.path(REJECTED), node, "stage"), task)

    def meta(self, node: str, name: str) -> str:
        """A run metadata file a node writes (buckets.json, plan.json, plan.png): under
        ``_curate/meta/<node>/``, so that sink folders hold shards only. `name` (a stage parameter)
        must stay in that folder."""
        return self.under(self.under(self.path(META), node, "stage"), name, f"stage '{node}': file")

    @property
    def stats_file(self) -> str:
        return self.path(STATS)

    @property
    def errors_file(self) -> str:
        return self.path(ERRORS)

    @property
    def success_file(self) -> str:
        return self.path(SUCCESS)

    # ---- ownership -----------------------------------------------------------------------
    @property
    def marker(self) -> str:
        return self.path(MARKER)

    @property
    def lease(self) -> str:
        return self.path(LEASE)

    @property
    def legacy_marker(self) -> str:
        return self.path(LEGACY.marker)

    @property
    def report_file(self) -> str:
        """The run's HTML report (``curate report``), beside its other files that are no sink."""
        return self.path(f"{CURATE_DIR}/report.html")

    # ---- run bookkeeping -----------------------------------------------------------------
    def write_marker(self, path: str, data: dict[str, Any] | None = None) -> None:
        """Publish a marker that names this run (durably, last: :meth:`Files.write_marker`)."""
        self.files.write_marker(path, {**(data or {}), RUN: self.run_id})

    def accepted(self, path: str) -> dict[str, Any] | None:
        """Marker `path`'s content if it exists and names this run; None otherwise: the work it
        marks is redone (a marker another run left, or none)."""
        try:
            data = self.files.read_json(path)
        except (FileNotFoundError, ValueError):  # none, or not JSON: no marker of this run
            return None
        return data if isinstance(data, dict) and self.run_id and data.get(RUN) == self.run_id else None

    def accepted_tasks(self, unit: str) -> dict[int, dict[str, Any]]:
        """The done markers of `unit` that name this run, by task index: one listing of its done
        folder per unit (a lookup per task costs a request per task on an object store), then a
        read of each marker the listing found."""
        found = {}
        for name in self.files.listdir(self.done_dir(unit)):
            task = part_index(name, "json")
            if task is not None and (data := self.accepted(f"{self.done_dir(unit)}/{name}")) is not None:
                found[task] = data
        return found

    @property
    def manifest(self) -> str:
        return f"{self.work}/manifest.json"

    def stream_rows(self, stream: str, task: int) -> str:
        """Task `task`'s rows of a stream a later unit reads back (`stream`: its folder name)."""
        return part_path(self.under(f"{self.work}/streams", stream, "stream"), task)

    def done_dir(self, unit: str) -> str:
        """Where the done markers of `unit` live, one ``part-NNNNN.json`` per finished task."""
        return f"{self.under(f'{self.work}/units', unit, 'unit')}/done"

    def done_marker(self, unit: str, task: int) -> str:
        return part_path(self.done_dir(unit), task, "json")

    @property
    def schedule_file(self) -> str:
        """The run's passes, units and task count, written when it starts (``curate stats`` on an
        unfinished run counts the done markers against it)."""
        return f"{self.work}/schedule.json"

    def stage_dir(self, node: str) -> str:
        """A node's corner of the work store (partials, state, done marker); see curate.store.state."""
        return self.under(f"{self.work}/stages", node, "stage")

    def local_dir(self, *parts: str) -> Path:
        """A real local directory for tools that need one (DuckDB): under OUTPUT on the local disk,
        else under the scratch directory (``--scratch``, default the system temp directory of the
        node running the step), scoped to this output."""
        if self.files.is_local:
            return Path(self.work).joinpath(*parts)
        tag = uuid.uuid5(uuid.NAMESPACE_URL, self.root_uri).hex[:12]
        return self.storage.scratch_dir(f"curate-work-{tag}", *parts)

    def work_bytes(self) -> int:
        """Total size of the files under the work folder (0 when it is gone)."""
        if not self.files.exists(self.work):
            return 0
        infos = self.files.fs.get_file_info(pafs.FileSelector(self.work, recursive=True))
        return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File)

    def clean_work(self) -> bool:
        """Remove the work folder (and the local scratch of a remote OUTPUT) of a finished run:
        only once ``_SUCCESS`` exists, so an unfinished run keeps what ``--resume`` needs. The
        ownership marker lives outside it and stays. Returns whether it removed anything."""
        if not self.files.exists(self.success_file) or not self.files.exists(self.work):
            return False
        self.files.delete(self.work)
        self.wipe_local()
        return True

    def wipe_local(self) -> None:
        """Delete this output's local scratch when OUTPUT itself is elsewhere (``--overwrite``)."""
        if not self.files.is_local:
            shutil.rmtree(self.local_dir(), ignore_errors=True)
