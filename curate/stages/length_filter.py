"""length_filter: reject documents outside a character or word-count range."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, reject_rows


@register
class LengthFilter(MapStage):
    name = "length_filter"
    produces = ()
    params = {
        "min_chars": Param(int, 0, "reject documents with fewer characters", min=0),
        "max_chars": Param(int, None, "reject documents with more characters", min=1, nullable=True),
        "min_words": Param(int, 0, "reject documents with fewer whitespace-separated words", min=0),
        "max_words": Param(int, None, "reject documents with more words", min=1, nullable=True),
    }

    def validate(self) -> None:
        from curate.errors import ConfigError

        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ConfigError("stage 'length_filter': max_chars < min_chars")
        if self.max_words is not None and self.max_words < self.min_words:
            raise ConfigError("stage 'length_filter': max_words < min_words")

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        text = table.column(schema.TEXT)
        chars = pc.utf8_length(text)
        table = reject_rows(table, pc.less(chars, self.min_chars), "length_filter:too_short")
        if self.max_chars is not None:
            table = reject_rows(table, pc.greater(chars, self.max_chars), "length_filter:too_long")
        if self.min_words or self.max_words is not None:
            words = pc.list_value_length(pc.utf8_split_whitespace(text))
            table = reject_rows(table, pc.less(words, self.min_words), "length_filter:too_few_words")
            if self.max_words is not None:
                table = reject_rows(table, pc.greater(words, self.max_words), "length_filter:too_many_words")
        return table
