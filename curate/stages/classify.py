"""classify: score every document with a supervised fastText model (quality, domain, ...).

Adds two columns named after ``column``: ``NAME``, the top label (without fastText's
``__label__`` prefix), and ``NAME_score``: P(``label``) when ``label`` is given (``label: hq`` on
a quality model gives P(hq), the quality score), else the probability of the top label. Like
dolma's attributes, scores are kept as columns, so thresholds (``prune``, ``quality_buckets``)
can be re-applied later without rescoring. A document with no words after preprocessing gets
null in both columns.

The model is loaded lazily once per worker process; prediction is one batched fastText call per
Arrow batch. ``preprocess`` says how text becomes a fastText line: ``fasttext`` (newlines to
spaces, nothing else: what fastText's ``predict`` and so every public model expects) or
``curate`` (curate's normalisation, see :mod:`curate.classifiers.preprocess`). Unset, it is what
the model's curate card records (``curate`` for models curate trained), else ``fasttext``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate import schema
from curate.classifiers.modes import MODES
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, set_column
from curate.store.storage import Storage

# Shared by classify and language_id.
PREPROCESS_PARAM = Param(str, None, "how text becomes a fastText line: fasttext (newlines to spaces only, "
                         "as public models expect) or curate; default: the model card's, else fasttext",
                         choices=MODES, nullable=True)

# Column names the stage must not overwrite.
_RESERVED = (schema.ID, schema.TEXT, schema.REJECT_REASON, schema.REJECT_STAGE)


def score_column(column: str) -> str:
    """Name of the score column that goes with label column `column` (quality -> quality_score)."""
    return f"{column}_score"


def train_classifier(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Train a fastText classifier from labelled shards (see :mod:`curate.classifiers.train`)."""
    from curate.classifiers.train import train_classifier as _train

    return _train(*args, **kwargs)


class FastTextScorer(MapStage):
    """Base of the stages that add a (label, score) column pair from a fastText model."""

    missing_model_hint = ""

    def label_columns(self) -> tuple[str, str]:
        raise NotImplementedError

    def produced_columns(self) -> tuple[str, ...]:
        return self.label_columns()

    def wanted_label(self) -> str | None:
        return None

    def check(self, storage: Storage) -> None:
        if not storage.file_exists(self.model):
            raise ConfigError(f"model file not found: {self.model}" + (f". {self.missing_model_hint}"
                                                                       if self.missing_model_hint else ""))
        classifier = self.classifier(storage)
        if self.wanted_label() is not None:
            classifier.require_label(self.wanted_label())

    def dependency_files(self, storage: Storage) -> list[str]:
        from curate.classifiers.card import card_path

        card = card_path(self.model)
        return [self.model, *([card] if storage.file_exists(card) else [])]

    def kernels(self) -> list[Any]:
        from curate.classifiers import preprocess

        return list(preprocess.KERNELS)

    def warm_up(self, sample: pa.Table) -> None:
        """Only curate's own preprocessing runs a numba kernel (fastText's is Arrow compute)."""
        from curate.classifiers.preprocess import CURATE, lines_for

        lines_for(sample.column(schema.TEXT), CURATE)

    def preprocess_mode(self, storage: Storage) -> str:
        """The ``preprocess`` parameter, or the model's default (its card's, else ``fasttext``)."""
        if self.preprocess is not None:
            return self.preprocess
        from curate.classifiers.card import default_preprocess

        return self.cached("preprocess", lambda: default_preprocess(self.model, storage))

    def classifier(self, storage: Storage) -> Any:
        """The loaded model (once per process), read with the run's `storage`."""
        from curate.classifiers.fasttext import Classifier

        return self.cached("model", lambda: Classifier.load(self.model, storage=storage))

    def score(self, table: pa.Table, storage: Storage) -> pa.Table:
        """`table` with the label and score columns added (or replaced)."""
        labels, scores = self.classifier(storage).predict(table.column(schema.TEXT), self.wanted_label(),
                                                          self.preprocess_mode(storage))
        name, score_name = self.label_columns()
        table = set_column(table, name, labels)
        return set_column(table, score_name, scores)

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return self.score(table, ctx.storage)


@register
class Classify(FastTextScorer):
    name = "classify"
    params = {
        "model": Param(str, path=True, help="path of a supervised fastText model (.bin or .ftz)"),
        "column": Param(str, help="output column for the top label; the score goes to COLUMN_score"),
        "label": Param(str, None, "score = P(label) (e.g. hq on a quality model); default: P(top label)",
                       nullable=True),
        "preprocess": PREPROCESS_PARAM,
    }

    def validate(self) -> None:
        for col in self.label_columns():
            if col in _RESERVED or not col:
                raise ConfigError(f"stage 'classify': column '{col}' is reserved; choose another 'column'")

    def label_columns(self) -> tuple[str, str]:
        return self.column, score_column(self.column)

    @classmethod
    def can_make(cls, column: str) -> bool:
        return column.endswith(score_column(""))  # any COLUMN_score, with the matching 'column'

    def wanted_label(self) -> str | None:
        return self.label
