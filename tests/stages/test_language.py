"""language_id: a tiny language-ID model trained on generated sentences, scored on other ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate import schema
from curate.api import Pipeline
from curate.classifiers.fasttext import TrainParams
from curate.classifiers.train import train_classifier
from curate.errors import ConfigError
from curate.sample_data import LANGUAGES, language_samples
from curate.stages.language import REASON_LOW_SCORE, REASON_OTHER_LANGUAGE
from tests.conftest import read_output, write_parquet

LID = TrainParams(epochs=15, lr=0.5, word_ngrams=1, dim=16, bucket=20_000, minn=2, maxn=4)


def _shards(root: Path, table: pa.Table, prefix: str, n_shards: int = 2) -> Path:
    ids = [f"{prefix}{i:05d}" for i in range(table.num_rows)]
    step = -(-table.num_rows // n_shards)
    for s in range(n_shards):
        part = table.slice(s * step, step)
        write_parquet(root / f"{prefix}{s}.parquet", {
            schema.ID: ids[s * step:s * step + part.num_rows], schema.TEXT: part.column(schema.TEXT).to_pylist(),
            schema.TRUE_LANGUAGE: part.column(schema.TRUE_LANGUAGE).to_pylist()})
    return root


@pytest.fixture(scope="module")
def lid_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lid")
    data = _shards(root / "train", language_samples(n_per_language=150, seed=5), "tr")
    model = root / "lid.bin"
    card = train_classifier(data, schema.TRUE_LANGUAGE, model, params=LID)
    assert sorted(card["labels"]) == sorted(LANGUAGES)
    return model


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sentences generated with another seed: never seen in training."""
    return _shards(tmp_path_factory.mktemp("lid_test") / "in", language_samples(n_per_language=60, seed=6), "te", 3)


def test_language_id_on_held_out_text(lid_model: Path, held_out: Path, tmp_path: Path) -> None:
    Pipeline.from_stages([("language_id", {"model": str(lid_model)})]).run(held_out, tmp_path / "out", workers=1)
    table = read_output(tmp_path / "out")
    assert table.num_rows == 60 * len(LANGUAGES)
    pred = np.array(table.column(schema.LANGUAGE).to_pylist())
    truth = np.array(table.column(schema.TRUE_LANGUAGE).to_pylist())
    accuracy = (pred == truth).mean()
    assert accuracy >= 0.95, accuracy
    for lang in LANGUAGES:  # every language recognised, including zh (no spaces: character n-grams)
        assert (pred[truth == lang] == lang).mean() >= 0.85, lang
    scores = table.column(schema.LANGUAGE_SCORE).to_numpy()
    assert ((scores > 0) & (scores <= 1)).all() and np.median(scores) > 0.8


def test_keep_and_min_score_reject_with_reasons(lid_model: Path, held_out: Path, tmp_path: Path) -> None:
    params = {"model": str(lid_model), "keep": ["en", "de"], "min_score": 0.6}
    result = Pipeline.from_stages([("language_id", params)]).run(held_out, tmp_path / "out", workers=1,
                                                                  keep_rejected=True)
    kept = read_output(tmp_path / "out")
    assert set(kept.column(schema.LANGUAGE).to_pylist()) <= {"en", "de"}
    assert min(kept.column(schema.LANGUAGE_SCORE).to_pylist()) >= 0.6
    stage = {s["stage"]: s for s in result.stats["stages"]}["language_id"]
    rejected = stage["rejected"]
    assert REASON_OTHER_LANGUAGE in rejected and rejected[REASON_OTHER_LANGUAGE] >= 4 * 60 * 0.9
    assert kept.num_rows + sum(rejected.values()) == 60 * len(LANGUAGES)
    assert set(rejected) <= {REASON_OTHER_LANGUAGE, REASON_LOW_SCORE}


def test_missing_model_says_where_to_get_one(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {schema.ID: ["a"], schema.TEXT: ["hello"]})
    with pytest.raises(ConfigError) as info:
        Pipeline.from_stages([("language_id", {"model": str(tmp_path / "lid.176.bin")})]).run(
            tmp_path / "in", tmp_path / "out", workers=1)
    message = str(info.value)
    assert "model file not found" in message and "lid.176.bin" in message and "lid.176.ftz" in message
    assert "does not download" in message and "language-identification" in message


def test_bad_keep_list() -> None:
    with pytest.raises(ConfigError, match="'keep' must be a non-empty list"):
        Pipeline.from_stages([("language_id", {"model": "x.bin", "keep": []})])
