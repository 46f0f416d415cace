"""Public fastText models as published: fastText's own lid.176.ftz (taken from inside a PyPI
wheel, see tests/public_models.py) scored by curate's language_id agrees with raw fastText."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate import schema
from curate.api import Pipeline
from curate.classifiers.card import default_preprocess
from curate.classifiers.fasttext import TrainParams
from curate.classifiers.train import train_classifier
from curate.sample_data import language_samples
from curate.stages.language import REASON_LOW_SCORE, REASON_OTHER_LANGUAGE
from tests import public_models
from tests.conftest import CURATE, ROOT, env_with_repo, read_output, write_parquet


@pytest.fixture(scope="module")
def lid176() -> Path:
    try:
        return public_models.lid176()
    except public_models.Unavailable as exc:
        pytest.skip(f"lid.176.ftz not available: PyPI unreachable ({exc})")


def _web_like(seed: int, n: int) -> list[str]:
    """Documents as crawled text looks: generated sentences in six languages, some in capitals,
    split over lines, with titles, numbers, URLs, punctuation runs and the odd mixed-language one."""
    rng = np.random.default_rng(seed)
    sentences = language_samples(n_per_language=n, seed=seed).column(schema.TEXT).to_pylist()
    docs = []
    for i, text in enumerate(sentences):
        parts = text.split(". ")
        if i % 3 == 0:
            parts[0] = parts[0].upper()
        if i % 4 == 1:
            parts.insert(0, f"Home | News | {rng.integers(1, 99)} comments")
        if i % 5 == 2:
            parts.append(f"https://example.org/p/{i}?ref=nav!!!")
        if i % 7 == 3:
            parts.append(sentences[(i * 31) % len(sentences)])
        docs.append(("\n" if i % 2 else ". ").join(parts))
    return docs


@pytest.fixture(scope="module")
def web_docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two shards of web-like documents; ids sort in document order."""
    docs = _web_like(11, 60)
    root = tmp_path_factory.mktemp("web") / "in"
    half = len(docs) // 2
    for s, chunk in enumerate((docs[:half], docs[half:])):
        write_parquet(root / f"part{s}.parquet", {schema.ID: [f"d{s}-{i:04d}" for i in range(len(chunk))],
                                                  schema.TEXT: chunk})
    return root, docs


def _raw_fasttext(model_path: Path, docs: list[str]) -> tuple[list[str], np.ndarray]:
    """What fastText's own predict says, one document at a time, newlines replaced by spaces
    (the call FineWeb's language filter makes)."""
    import fasttext

    model = fasttext.load_model(str(model_path))
    labels, probs = [], []
    for text in docs:
        (label,), (p,) = model.predict(text.replace("\n", " "), k=1)
        labels.append(label.removeprefix("__label__"))
        probs.append(p)
    return labels, np.array(probs)


def _scored(model: Path, root: Path, out: Path, **params: object) -> pa.Table:
    Pipeline.from_stages([("language_id", {"model": str(model), **params})]).run(root, out, workers=2)
    return read_output(out).sort_by(schema.ID)


def test_lid176_default_preprocess_is_raw_fasttext(lid176: Path, web_docs: tuple[Path, list[str]],
                                                   tmp_path: Path) -> None:
    root, docs = web_docs
    assert default_preprocess(lid176) == "fasttext"  # no curate card beside it
    table = _scored(lid176, root, tmp_path / "out")
    assert table.column(schema.TEXT).to_pylist() == docs
    labels, probs = _raw_fasttext(lid176, docs)
    assert table.column(schema.LANGUAGE).to_pylist() == labels
    ours = table.column(schema.LANGUAGE_SCORE).to_numpy()
    np.testing.assert_allclose(ours, np.clip(probs, 0.0, 1.0), rtol=0, atol=1e-6)
    assert len(set(labels)) >= 6  # the check covers several languages, not one


def test_curate_preprocess_is_what_public_thresholds_do_not_expect(lid176: Path, web_docs: tuple[Path, list[str]],
                                                                   tmp_path: Path) -> None:
    root, docs = web_docs
    table = _scored(lid176, root, tmp_path / "out", preprocess="curate")
    _, probs = _raw_fasttext(lid176, docs)
    diff = np.abs(table.column(schema.LANGUAGE_SCORE).to_numpy() - np.clip(probs, 0, 1))
    assert diff.max() > 0.01  # lowercasing and splitting punctuation move a public model's scores


def test_fineweb_recipe_rejects_exactly_what_raw_fasttext_would(lid176: Path, web_docs: tuple[Path, list[str]],
                                                                tmp_path: Path) -> None:
    # FineWeb: keep English with lid.176 score >= 0.65 (Penedo et al. 2024, base filtering).
    root, docs = web_docs
    params = {"model": str(lid176), "keep": ["en"], "min_score": 0.65}
    result = Pipeline.from_stages([("language_id", params)]).run(root, tmp_path / "out", workers=1)
    labels, probs = _raw_fasttext(lid176, docs)
    kept = read_output(tmp_path / "out").sort_by(schema.ID).column(schema.TEXT).to_pylist()
    assert kept == [d for d, lab, p in zip(docs, labels, probs) if lab == "en" and min(p, 1.0) >= 0.65]
    rejected = {s["stage"]: s for s in result.stats["stages"]}["language_id"]["rejected"]
    assert rejected[REASON_OTHER_LANGUAGE] == sum(lab != "en" for lab in labels)
    assert rejected[REASON_LOW_SCORE] == sum(lab == "en" and p < 0.65 for lab, p in zip(labels, probs))


def test_models_curate_trains_are_scored_with_curate_preprocessing(tmp_path: Path) -> None:
    rows = language_samples(n_per_language=30, seed=3)
    write_parquet(tmp_path / "in" / "a.parquet", {schema.ID: [f"x{i}" for i in range(rows.num_rows)],
                                                  schema.TEXT: rows.column(schema.TEXT).to_pylist(),
                                                  schema.TRUE_LANGUAGE: rows.column(schema.TRUE_LANGUAGE).to_pylist()})
    model = tmp_path / "lid.bin"
    card = train_classifier(tmp_path / "in", schema.TRUE_LANGUAGE, model,
                            params=TrainParams(epochs=5, dim=8, bucket=5_000, minn=2, maxn=3))
    assert card["preprocessing"]["name"] == "curate"
    assert default_preprocess(model) == "curate"
    model.with_suffix(".json").write_text('["not", "a curate card"]')  # some other tool's JSON beside it
    assert default_preprocess(model) == "fasttext"
    model.with_suffix(".json").unlink()  # a curate model without its card is treated as a public one
    assert default_preprocess(model) == "fasttext"


def test_classify_verb_takes_preprocess(lid176: Path, web_docs: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, docs = web_docs
    labels, _ = _raw_fasttext(lid176, docs)
    for mode in ("fasttext", "curate"):
        r = subprocess.run([*CURATE, "classify", "--model", str(lid176), "--column", "lang", "--preprocess", mode,
                            "--input", str(root), "--output", str(tmp_path / mode), "--workers", "1", "--quiet"],
                           cwd=ROOT, env=env_with_repo(), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    same = read_output(tmp_path / "fasttext").sort_by(schema.ID).column("lang").to_pylist()
    other = read_output(tmp_path / "curate").sort_by(schema.ID).column("lang").to_pylist()
    assert same == labels and other != labels
