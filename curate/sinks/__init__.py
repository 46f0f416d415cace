"""Sink formats: how a pipeline's ``outputs:`` entries write their shards (Parquet, JSON Lines,
Megatron and datatrove tokenized files). See :mod:`curate.sinks.spec`."""

from curate.sinks.base import SinkWriter
from curate.sinks.spec import FORMATS, Format, SinkSpec

__all__ = ["FORMATS", "Format", "SinkSpec", "SinkWriter"]
