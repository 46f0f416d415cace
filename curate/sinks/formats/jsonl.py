"""JSON Lines sink: one file per task, plain (``jsonl``) or compressed whole (``jsonl.gz``, ``jsonl.zst``)."""

from __future__ import annotations

from curate.sinks.base import SinkWriter
from curate.sinks.sink_format import SinkFormat, register
from curate.sinks.spec import SinkSpec
from curate.sinks.text import JSONL_CODECS, JsonlSink
from curate.store.files import Files


@register
class JsonLinesFormat(SinkFormat):
    name = "jsonl"
    aliases = tuple(n for n in JSONL_CODECS if n != "jsonl")
    help = "JSON Lines, every column of the stream, UTF-8; also jsonl.gz and jsonl.zst (one stream a file)."
    suffixes = (".jsonl",)

    def shard_suffixes(self, spec: SinkSpec) -> tuple[str, ...]:
        return (f".{spec.format}",)

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        return JsonlSink(files, f"{prefix}.{spec.format}", spec.format)
