"""normalize: Unicode normalization, control-character stripping and whitespace cleanup.

This stage owns the ``text`` column: it rewrites it in place. Every step is a vectorized
Arrow compute kernel over the whole batch.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, set_column

# C0 controls except tab (\x09), newline (\x0a) and carriage return (\x0d); DEL; C1 controls;
# and zero-width characters that only hide text (ZWSP, word joiner, BOM). ZWJ/ZWNJ are kept:
# they matter in scripts such as Persian and in emoji sequences.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{200b}\x{2060}\x{feff}]"


@register
class Normalize(MapStage):
    name = "normalize"
    produces = ()
    params = {
        "form": Param(str, "NFC", "Unicode normalization form", choices=("NFC", "NFKC", "NFD", "NFKD", "none")),
        "strip_control": Param(bool, True, "remove control and zero-width characters (tab and newline stay)"),
        "collapse_spaces": Param(bool, True, "collapse runs of spaces/tabs within a line to one space and trim lines"),
        "max_blank_lines": Param(int, 1, "at most this many consecutive blank lines", min=0),
        "strip": Param(bool, True, "strip leading and trailing whitespace of the document"),
    }

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        text = table.column(schema.TEXT)
        if self.form != "none":
            text = pc.utf8_normalize(text, self.form)
        if self.strip_control:
            text = pc.replace_substring_regex(text, _CONTROL, "")
        text = pc.replace_substring(text, "\r\n", "\n")
        text = pc.replace_substring(text, "\r", "\n")
        if self.collapse_spaces:
            # Unicode spaces (NBSP, thin space, ...) become plain spaces, then runs collapse.
            text = pc.replace_substring_regex(text, r"[\t\x0b\x0c\p{Zs}]+", " ")
            text = pc.replace_substring_regex(text, r"(?m)^ | $", "")
        keep = self.max_blank_lines + 1
        text = pc.replace_substring_regex(text, rf"\n{{{keep + 1},}}", "\n" * keep)
        if self.strip:
            text = pc.utf8_trim_whitespace(text)
        return set_column(table, schema.TEXT, text)
