"""The sink format protocol and its registry.

A sink format names the options an ``outputs:`` entry may give it (with their types and
defaults), checks their values, says which columns its writer reads and which files besides the
data it reads (part of the resume fingerprint), and opens the writer of one task's shard. Built-in
formats are the modules of :mod:`curate.sinks.formats`, one file each; another package adds one
with a class deriving :class:`SinkFormat` and an entry point in the ``curate.sink_formats``
group (see :mod:`curate.registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from curate.registry import Registry

if TYPE_CHECKING:
    from curate.sinks.base import SinkWriter
    from curate.sinks.spec import SinkSpec
    from curate.store.files import Files
    from curate.store.storage import Storage


class SinkFormat:
    """One sink format. Subclasses set ``name`` (and ``aliases``: other names of the same format,
    which the spec keeps as ``SinkSpec.format``), ``help``, ``suffixes`` (the shard's files after
    ``part-NNNNN``, data file first), ``options`` / ``defaults`` / ``required``, and implement
    :meth:`open`."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    help: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, tuple[type, ...]]] = {}  # option -> allowed types
    defaults: ClassVar[dict[str, Any]] = {}
    required: ClassVar[tuple[str, ...]] = ()

    def shard_suffixes(self, spec: SinkSpec) -> tuple[str, ...]:
        """The suffixes of one shard's files for this entry (an alias may change them)."""
        return self.suffixes

    def check_values(self, where: str, options: dict[str, Any]) -> None:
        """Checks of the option values beyond their types; raise ConfigError naming `where`."""

    def check(self, spec: SinkSpec, storage: Storage) -> None:
        """Checks that need the file system (a tokenizer loads), before any work."""

    def required_columns(self, spec: SinkSpec) -> tuple[str, ...]:
        """Columns the writer reads (a row format writes whatever columns the stream has)."""
        return ()

    def dependency_files(self, spec: SinkSpec) -> list[str]:
        """Files the writer reads besides the data (their content is in the resume fingerprint)."""
        return []

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        """The writer of one task's shard, whose files are `prefix` + each suffix."""
        raise NotImplementedError

    def finish(self, spec: SinkSpec, files: Files, directory: str, n_tasks: int) -> None:
        """Write what describes the whole sink once every task's shard is written (an index that
        lists the shards, for the formats whose readers need one); nothing by default. Called at
        the end of every run that completes, so it must give the same files however often it runs."""


SINK_FORMATS: Registry[type[SinkFormat]] = Registry("sink format", "curate.sinks.formats", "curate.sink_formats")
register = SINK_FORMATS.register
_INSTANCES: dict[str, SinkFormat] = {}


def sink_format(name: str) -> SinkFormat:
    """The registered format `name` (or alias), one instance per process."""
    cls = SINK_FORMATS.get(name)
    if cls.name not in _INSTANCES:
        _INSTANCES[cls.name] = cls()
    return _INSTANCES[cls.name]
