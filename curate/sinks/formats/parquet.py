"""Parquet sink: one zstd (or other codec) Parquet file per task, row groups of a set size."""

from __future__ import annotations

from typing import Any

from curate.errors import ConfigError
from curate.sinks.base import SinkWriter
from curate.sinks.sink_format import SinkFormat, register
from curate.sinks.spec import SinkSpec
from curate.sinks.text import ParquetSink
from curate.store.files import COMPRESSION, ROW_GROUP_ROWS, Files

CODECS = ("zstd", "snappy", "gzip", "lz4", "brotli", "none")


@register
class ParquetFormat(SinkFormat):
    name = "parquet"
    help = "Apache Parquet, every column of the stream (the default sink format)."
    suffixes = (".parquet",)
    options = {"compression": (str,), "row_group_rows": (int,)}
    defaults = {"compression": COMPRESSION, "row_group_rows": ROW_GROUP_ROWS}

    def check_values(self, where: str, options: dict[str, Any]) -> None:
        if options["compression"] not in CODECS:
            raise ConfigError(f"{where}: 'compression' must be one of {', '.join(CODECS)}, "
                              f"got {options['compression']!r}")
        if options["row_group_rows"] < 1:
            raise ConfigError(f"{where}: 'row_group_rows' must be >= 1, got {options['row_group_rows']}")

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        return ParquetSink(files, prefix + ".parquet", spec.options["compression"], spec.options["row_group_rows"])
