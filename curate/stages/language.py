"""language_id: the language of every document, from a fastText language-identification model.

Adds ``language`` (the top label, e.g. ``en``) and ``language_score`` (its probability). The
model is the user's file: fastText's published ``lid.176.bin`` / ``lid.176.ftz`` (176 languages)
or one trained with ``curate train-classifier --label-column language``; curate never downloads
one. Optionally keeps only some languages (``keep``) or confident predictions (``min_score``);
the others are rejected as ``language_id:other_language`` / ``language_id:low_score``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import Param, TaskContext, reject_rows
from curate.stages.classify import PREPROCESS_PARAM, FastTextScorer

REASON_OTHER_LANGUAGE = "language_id:other_language"
REASON_LOW_SCORE = "language_id:low_score"


@register
class LanguageId(FastTextScorer):
    name = "language_id"
    produces = (schema.LANGUAGE, schema.LANGUAGE_SCORE)
    params = {
        "model": Param(str, path=True, help="path of a fastText language-ID model, e.g. lid.176.bin or lid.176.ftz"),
        "keep": Param(list, None, "keep only these languages (e.g. [en, de]); default: keep all", nullable=True),
        "min_score": Param(float, 0.0, "reject documents whose language_score is below this", min=0.0, max=1.0),
        "preprocess": PREPROCESS_PARAM,
    }
    produces = (schema.LANGUAGE, schema.LANGUAGE_SCORE)
    missing_model_hint = (
        "curate does not download models: get fastText's published language-identification model "
        "lid.176.bin (126 MB) or lid.176.ftz (917 kB) from the 'Language identification' page of the "
        "fastText documentation (fasttext.cc/docs/en/language-identification.html), or train one with "
        "`curate train-classifier --label-column language`, and pass its path as 'model'")

    def validate(self) -> None:
        if self.keep is not None and (not self.keep or not all(isinstance(x, str) and x for x in self.keep)):
            raise ConfigError("stage 'language_id': 'keep' must be a non-empty list of language codes")

    def label_columns(self) -> tuple[str, str]:
        return schema.LANGUAGE, schema.LANGUAGE_SCORE

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        table = self.score(table, ctx.storage)
        if self.keep is not None:
            kept = pc.is_in(table.column(schema.LANGUAGE), pa.array(self.keep, pa.string()))
            table = reject_rows(table, pc.invert(kept), REASON_OTHER_LANGUAGE)
        if self.min_score > 0:
            low = pc.fill_null(pc.less(table.column(schema.LANGUAGE_SCORE), self.min_score), True)
            table = reject_rows(table, low, REASON_LOW_SCORE)
        return table
