"""Megatron-LM indexed dataset sink: ``part-NNNNN.bin`` tokens and ``.idx`` index per task."""

from __future__ import annotations

from curate.sinks.base import SinkWriter
from curate.sinks.indexed import MegatronSink
from curate.sinks.sink_format import register
from curate.sinks.spec import SinkSpec
from curate.sinks.tokens import TokenizedFormat
from curate.store.files import Files


@register
class MegatronFormat(TokenizedFormat):
    name = "megatron"
    help = "Megatron-LM / megatron-core indexed dataset (.bin tokens + .idx), tokenized with a tokenizer.json."
    suffixes = (".bin", ".idx")

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        return MegatronSink(files, prefix, self.encoder(spec))
