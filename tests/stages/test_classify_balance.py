"""Training that survives real labels: a 40:1 imbalance, a low-recall warning, an id-like label column."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.classifiers.balance import MAX_UPSAMPLE, copies_per_line, label_weights, rebalance
from curate.classifiers.fasttext import Classifier
from curate.classifiers.train import train_classifier
from curate.errors import ConfigError
from curate.sample_data import generate
from tests.in_process import curate

N_MINORITY, N_MAJORITY = 100, 4000  # 40:1


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference-style documents (hq) against 40 times as many web documents (lq): the quality
    classifier's training set with the imbalance real curated sources have."""
    root = tmp_path_factory.mktemp("imbalanced")
    generate(root / "ref", n_docs=N_MINORITY, seed=7, kind="reference", n_shards=1)
    generate(root / "web", n_docs=N_MAJORITY, seed=8, n_shards=1)
    ref = pq.read_table(root / "ref", columns=[schema.ID, schema.TEXT])
    web = pq.read_table(root / "web", columns=[schema.ID, schema.TEXT])
    table = pa.table({
        schema.ID: [f"ref-{x}" for x in ref.column(schema.ID).to_pylist()] +
                   [f"web-{x}" for x in web.column(schema.ID).to_pylist()],
        schema.TEXT: ref.column(schema.TEXT).to_pylist() + web.column(schema.TEXT).to_pylist(),
        "label": ["hq"] * ref.num_rows + ["lq"] * web.num_rows,
        "url": [f"https://site{i % 3}.example/{i}" for i in range(ref.num_rows + web.num_rows)],
    })
    (root / "labelled").mkdir()
    pq.write_table(table, root / "labelled" / "part-0.parquet")
    return root / "labelled"


def _recall(card: dict, label: str) -> float:
    return card["metrics"]["per_label"][label]["recall"]


def test_default_balance_gives_the_minority_its_recall(imbalanced: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    card = train_classifier(imbalanced, "label", tmp_path / "m.bin", valid_fraction=0.25, warn=warnings.append)
    assert card["balance"] == "upsample"
    assert card["metrics"]["per_label"]["hq"]["support"] >= 15
    assert _recall(card, "hq") >= 0.8 and _recall(card, "lq") >= 0.8
    counts = card["balanced_train_counts"]
    assert abs(counts["hq"] - counts["lq"]) <= 0.1 * counts["lq"]  # the minority repeated up to the majority
    assert counts["lq"] == card["label_counts"]["train"]["lq"]
    assert warnings == [] and card["warnings"] == []


def test_no_balance_is_the_failure_and_the_warning_names_the_label(imbalanced: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    card = train_classifier(imbalanced, "label", tmp_path / "m.bin", valid_fraction=0.25, balance="none",
                            warn=warnings.append)
    assert _recall(card, "hq") < 0.5  # what a user got before: the minority is never predicted
    assert len(warnings) == 1 and "label 'hq'" in warnings[0] and "recall" in warnings[0]
    assert card["warnings"] == warnings
    assert card["balanced_train_counts"] == card["label_counts"]["train"]


def test_downsample_and_weight(imbalanced: Path, tmp_path: Path) -> None:
    down = train_classifier(imbalanced, "label", tmp_path / "d.bin", valid_fraction=0.25, balance="downsample")
    counts = down["balanced_train_counts"]
    assert counts["lq"] < 2 * counts["hq"]  # the majority cut to about the minority's count
    assert _recall(down, "hq") >= 0.8
    weighted = train_classifier(imbalanced, "label", tmp_path / "w.bin", valid_fraction=0.25, balance="weight")
    train_counts = Counter(weighted["label_counts"]["train"])
    assert weighted["label_weights"] == pytest.approx(label_weights(train_counts))
    assert _recall(weighted, "hq") >= 0.8
    # The weights travel in the card: the loaded model scores with them, P(hq) + P(lq) = 1.
    clf = Classifier.load(tmp_path / "w.bin")
    assert clf.weights == weighted["label_weights"]
    texts = pq.read_table(imbalanced).column(schema.TEXT).slice(0, 200)
    _, p_hq = clf.predict(texts, "hq")
    _, p_lq = clf.predict(texts, "lq")
    np.testing.assert_allclose(p_hq.to_numpy() + p_lq.to_numpy(), 1.0, atol=1e-9)
    plain = Classifier(clf.model, clf.path)
    assert (p_hq.to_numpy() > plain.predict(texts, "hq")[1].to_numpy()).all()  # hq is the rare label


def test_balanced_training_is_byte_reproducible(imbalanced: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        train_classifier(imbalanced, "label", tmp_path / f"{name}.bin", epochs=3, dim=8, bucket=10_000)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


def test_rebalance_file(tmp_path: Path) -> None:
    src = tmp_path / "train.txt"
    lines = [f"__label__a doc{i}\n" for i in range(3)] + [f"__label__b doc{i}\n" for i in range(600)]
    src.write_text("".join(lines))
    counts = Counter({"a": 3, "b": 600})
    assert copies_per_line(counts, "upsample") == {"a": MAX_UPSAMPLE, "b": 1.0}
    out, new = rebalance(src, counts, "upsample", seed=1, prefix="__label__")
    got = out.read_text().splitlines(keepends=True)
    assert new == Counter({"a": 300, "b": 600}) and Counter(got) == Counter(
        {**{line: MAX_UPSAMPLE for line in lines[:3]}, **{line: 1 for line in lines[3:]}})
    assert got != sorted(got, key=lines.index)  # shuffled, not in runs
    again, _ = rebalance(src, counts, "upsample", seed=1, prefix="__label__")
    assert again.read_text().splitlines(keepends=True) == got  # seeded
    assert rebalance(src, counts, "none", seed=1, prefix="__label__") == (src, counts)
    near = Counter({"a": 400, "b": 600})  # within IMBALANCE_RATIO: left as read under every mode
    assert all(copies_per_line(near, m) == {"a": 1.0, "b": 1.0} for m in ("upsample", "downsample"))
    assert label_weights(near) == {"a": 1.0, "b": 1.0}


def test_id_like_label_column_is_refused_before_training(imbalanced: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"label column 'url' has 4,100 distinct values, more than --max-labels 1,000"):
        train_classifier(imbalanced, "url", tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists()
    with pytest.raises(ConfigError, match="max_labels must be >= 2"):
        train_classifier(imbalanced, "label", tmp_path / "m.bin", max_labels=1)


def test_cli_balance_warning_and_max_labels(imbalanced: Path, tmp_path: Path) -> None:
    def train(*args: str) -> subprocess.CompletedProcess:
        return curate("train-classifier", "--input", str(imbalanced), "--output",
                               str(tmp_path / "m.bin"), "--valid-fraction", "0.25", *args)

    r = train("--label-column", "label", "--balance", "none")
    assert r.returncode == 0, r.stderr
    assert "warning: label 'hq' has a held-out recall of" in r.stderr
    r = train("--label-column", "url", "--max-labels", "50")
    assert r.returncode == 2 and "4,100 distinct values, more than --max-labels 50" in r.stderr
