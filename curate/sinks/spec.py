"""A sink entry of a pipeline's ``outputs:``, parsed and checked against its format.

``outputs: {NAME: NODE}`` writes NODE's kept rows as Parquet; a mapping chooses the format::

    outputs:
      mix: sample                                   # Parquet, zstd
      train: {from: sample, format: jsonl.zst}
      tokens: {from: sample, format: megatron, tokenizer: tok/tokenizer.json, eos: true}

Each format (curate.sinks.sink_format) names the options it takes; anything else is a
ConfigError naming the sink. `curate formats` lists the formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curate.errors import ConfigError
from curate.sinks.sink_format import SINK_FORMATS, SinkFormat, sink_format

if TYPE_CHECKING:
    from curate.sinks.base import SinkWriter
    from curate.store.files import Files
    from curate.store.storage import Storage


@dataclass(frozen=True)
class SinkSpec:
    """One parsed ``outputs:`` entry: which node it writes, in which format, with which options."""

    name: str
    source: str
    format: str = "parquet"
    options: dict[str, Any] = field(default_factory=dict)
    yaml_line: int | None = None

    @property
    def where(self) -> str:
        line = f" (line {self.yaml_line})" if self.yaml_line is not None else ""
        return f"outputs: sink '{self.name}'{line}"

    @classmethod
    def from_config(cls, name: str, value: Any, yaml_line: int | None = None) -> SinkSpec:
        """Parse ``NAME: NODE`` or ``NAME: {from: NODE, format: ..., OPTION: ...}`` (`yaml_line`,
        else a mapping's ``__line__``, locates the entry in error messages)."""
        if yaml_line is None and isinstance(value, dict) and isinstance(value.get("__line__"), int):
            yaml_line = value["__line__"]
        where = cls(str(name), "", yaml_line=yaml_line).where
        if isinstance(value, str):
            value = {"from": value}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expects a node name or a mapping with 'from:', got {value!r}")
        value = {k: v for k, v in value.items() if k != "__line__"}
        source = value.pop("from", None)
        if not isinstance(source, str) or not source:
            raise ConfigError(f"{where}: needs 'from: NODE' naming the node it writes")
        fmt_name = value.pop("format", "parquet")
        if not isinstance(fmt_name, str) or fmt_name not in SINK_FORMATS.names():
            raise ConfigError(f"{where}: unknown format {fmt_name!r} (known: {', '.join(SINK_FORMATS.names())})")
        fmt = sink_format(fmt_name)
        unknown = sorted(set(value) - set(fmt.options))
        if unknown:
            allowed = ", ".join(["from", "format", *fmt.options])
            raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} for format '{fmt_name}' "
                              f"(allowed: {allowed})")
        missing = [k for k in fmt.required if k not in value]
        if missing:
            raise ConfigError(f"{where}: format '{fmt_name}' needs '{missing[0]}:'")
        options = {**fmt.defaults, **value}
        for key, val in options.items():
            types = fmt.options[key]
            if not isinstance(val, types) or (isinstance(val, bool) and bool not in types):
                names = " or ".join("true/false" if t is bool else t.__name__ for t in types)
                raise ConfigError(f"{where}: '{key}' expects {names}, got {val!r}")
        fmt.check_values(where, options)
        return cls(str(name), source, fmt_name, options, yaml_line)

    @property
    def format_spec(self) -> SinkFormat:
        return sink_format(self.format)

    def check(self, storage: Storage) -> None:
        """Checks that need the file system, before any work (a tokenizer loads)."""
        self.format_spec.check(self, storage)

    def required_columns(self) -> tuple[str, ...]:
        """Columns the sink's writer reads (the tokenized formats read ``text``; the row formats
        write whatever columns the node has)."""
        return self.format_spec.required_columns(self)

    def dependency_files(self) -> list[str]:
        """Files whose content is part of the resume fingerprint (the tokenizer)."""
        return self.format_spec.dependency_files(self)

    def describe(self) -> dict[str, Any]:
        """The entry as plain data (for the run fingerprint and logs)."""
        return {"from": self.source, "format": self.format, **self.options}

    def shard_files(self, directory: str, task_index: int) -> list[str]:
        """The paths of task `task_index`'s shard in `directory`, data file first."""
        prefix = f"{directory}/part-{task_index:05d}"
        return [prefix + s for s in self.format_spec.shard_suffixes(self)]

    def finish(self, files: Files, directory: str, n_tasks: int) -> None:
        """Write the sink's own index files once all `n_tasks` shards are written."""
        self.format_spec.finish(self, files, directory, n_tasks)

    def open(self, files: Files, directory: str, task_index: int) -> SinkWriter:
        """A writer of task `task_index`'s shard in `directory` (the sink's folder)."""
        return self.format_spec.open(self, files, f"{directory}/part-{task_index:05d}")
