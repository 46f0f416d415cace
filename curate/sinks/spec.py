"""A sink entry of a pipeline's ``outputs:`` and the registry of formats it may name.

``outputs: {NAME: NODE}`` writes NODE's kept rows as Parquet; a mapping chooses the format::

    outputs:
      mix: sample                                   # Parquet, zstd
      train: {from: sample, format: jsonl.zst}
      tokens: {from: sample, format: megatron, tokenizer: tok/tokenizer.json, eos: true}

Each format names the options it takes; anything else is a ConfigError naming the sink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate import schema
from curate.errors import ConfigError
from curate.sinks.base import SinkWriter
from curate.sinks.indexed import DatatroveSink, MegatronSink
from curate.sinks.text import JSONL_CODECS, JsonlSink, ParquetSink
from curate.sinks.tokens import TokenEncoder
from curate.store.files import COMPRESSION, ROW_GROUP_ROWS, Files

PARQUET_CODECS = ("zstd", "snappy", "gzip", "lz4", "brotli", "none")
TOKENIZED_OPTIONS = {"tokenizer": (str,), "eos": (bool, str), "bos": (bool, str)}


@dataclass(frozen=True)
class Format:
    """A sink format: its options (name -> allowed types), their defaults, the shard's files
    (suffixes after ``part-NNNNN``) and how to open a writer."""

    name: str
    suffixes: tuple[str, ...]
    options: dict[str, tuple[type, ...]]
    defaults: dict[str, Any]
    opener: Callable[[SinkSpec, Files, str], SinkWriter]
    required: tuple[str, ...] = ()


def _open_parquet(spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
    return ParquetSink(files, prefix + ".parquet", spec.options["compression"], spec.options["row_group_rows"])


def _open_jsonl(spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
    return JsonlSink(files, f"{prefix}.{spec.format}", spec.format)


def _encoder(spec: SinkSpec) -> TokenEncoder:
    return TokenEncoder.open(spec.options["tokenizer"], spec.options["eos"], spec.options["bos"], spec.where)


def _open_megatron(spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
    return MegatronSink(files, prefix, _encoder(spec))


def _open_datatrove(spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
    return DatatroveSink(files, prefix + ".ds", _encoder(spec), spec.options["tokenizer"])


_TOKENIZED_DEFAULTS = {"eos": True, "bos": False}
FORMATS: dict[str, Format] = {
    "parquet": Format("parquet", (".parquet",), {"compression": (str,), "row_group_rows": (int,)},
                      {"compression": COMPRESSION, "row_group_rows": ROW_GROUP_ROWS}, _open_parquet),
    **{name: Format(name, (f".{name}",), {}, {}, _open_jsonl) for name in JSONL_CODECS},
    "megatron": Format("megatron", (".bin", ".idx"), TOKENIZED_OPTIONS, _TOKENIZED_DEFAULTS, _open_megatron,
                       required=("tokenizer",)),
    "datatrove": Format("datatrove", (".ds", ".ds.index", ".ds.metadata"), TOKENIZED_OPTIONS, _TOKENIZED_DEFAULTS,
                        _open_datatrove, required=("tokenizer",)),
}


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
        fmt = FORMATS.get(fmt_name) if isinstance(fmt_name, str) else None
        if fmt is None:
            raise ConfigError(f"{where}: unknown format {fmt_name!r} (known: {', '.join(FORMATS)})")
        unknown = sorted(set(value) - set(fmt.options))
        if unknown:
            allowed = ", ".join(["from", "format", *fmt.options])
            raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} for format '{fmt.name}' "
                              f"(allowed: {allowed})")
        missing = [k for k in fmt.required if k not in value]
        if missing:
            raise ConfigError(f"{where}: format '{fmt.name}' needs '{missing[0]}:'")
        options = {**fmt.defaults, **value}
        for key, val in options.items():
            types = fmt.options[key]
            if not isinstance(val, types) or (isinstance(val, bool) and bool not in types):
                names = " or ".join("true/false" if t is bool else t.__name__ for t in types)
                raise ConfigError(f"{where}: '{key}' expects {names}, got {val!r}")
        _check_values(where, options)
        return cls(str(name), source, fmt.name, options, yaml_line)

    @property
    def format_spec(self) -> Format:
        return FORMATS[self.format]

    def check(self) -> None:
        """Checks that need the file system, before any work: the tokenizer loads and has the
        configured BOS / EOS tokens."""
        if "tokenizer" in self.options:
            if not Path(self.options["tokenizer"]).is_file():
                raise ConfigError(f"{self.where}: tokenizer file not found: {self.options['tokenizer']}")
            _encoder(self)

    def required_columns(self) -> tuple[str, ...]:
        """Columns the sink's writer reads (the tokenized formats read ``text``; the row formats
        write whatever columns the node has)."""
        return (schema.TEXT,) if "tokenizer" in self.options else ()

    def dependency_files(self) -> list[str]:
        """Files whose content is part of the resume fingerprint (the tokenizer)."""
        return [self.options["tokenizer"]] if "tokenizer" in self.options else []

    def describe(self) -> dict[str, Any]:
        """The entry as plain data (for the run fingerprint and logs)."""
        return {"from": self.source, "format": self.format, **self.options}

    def shard_files(self, directory: str, task_index: int) -> list[str]:
        """The paths of task `task_index`'s shard in `directory`, data file first."""
        prefix = f"{directory}/part-{task_index:05d}"
        return [prefix + s for s in self.format_spec.suffixes]

    def open(self, files: Files, directory: str, task_index: int) -> SinkWriter:
        """A writer of task `task_index`'s shard in `directory` (the sink's folder)."""
        return self.format_spec.opener(self, files, f"{directory}/part-{task_index:05d}")


def _check_values(where: str, options: dict[str, Any]) -> None:
    if "compression" in options and options["compression"] not in PARQUET_CODECS:
        raise ConfigError(f"{where}: 'compression' must be one of {', '.join(PARQUET_CODECS)}, "
                          f"got {options['compression']!r}")
    if "row_group_rows" in options and options["row_group_rows"] < 1:
        raise ConfigError(f"{where}: 'row_group_rows' must be >= 1, got {options['row_group_rows']}")
    for key in ("eos", "bos"):
        if isinstance(options.get(key), str) and not options[key]:
            raise ConfigError(f"{where}: '{key}' must be true, false or a token's text, not empty")
