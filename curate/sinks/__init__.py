"""Sink formats: how a pipeline's ``outputs:`` entries write their shards (Parquet, JSON Lines,
Megatron and datatrove tokenized files, and any format a plugin registers). See
:mod:`curate.sinks.sink_format` and :mod:`curate.sinks.spec`."""

from curate.sinks.base import SinkWriter
from curate.sinks.sink_format import SINK_FORMATS, SinkFormat
from curate.sinks.spec import SinkSpec

__all__ = ["SINK_FORMATS", "SinkFormat", "SinkSpec", "SinkWriter"]
