"""datatrove tokenized sink: ``part-NNNNN.ds`` tokens with its ``.ds.index`` and ``.ds.metadata``."""

from __future__ import annotations

from curate.sinks.base import SinkWriter
from curate.sinks.indexed import DatatroveSink
from curate.sinks.sink_format import register
from curate.sinks.spec import SinkSpec
from curate.sinks.tokens import TokenizedFormat
from curate.store.files import Files


@register
class DatatroveFormat(TokenizedFormat):
    name = "datatrove"
    help = "datatrove's tokenized files (.ds + .ds.index + .ds.metadata), as DatatroveFolderDataset reads them."
    suffixes = (".ds", ".ds.index", ".ds.metadata")

    def open(self, spec: SinkSpec, files: Files, prefix: str) -> SinkWriter:
        return DatatroveSink(files, prefix + ".ds", self.encoder(spec), spec.options["tokenizer"])
