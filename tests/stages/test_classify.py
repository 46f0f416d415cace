"""fastText classifiers: preprocessing, training (split, card, determinism), batch prediction, the
classify stage and the train-classifier / classify verbs. Real models trained on generated text."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import schema
from curate.api import Pipeline
from curate.classifiers.fasttext import Classifier, TrainParams
from curate.classifiers.metrics import classification_report
from curate.classifiers.preprocess import MAX_CHARS, preprocess, reference
from curate.classifiers.train import train_classifier
from curate.errors import ConfigError, InputError
from tests.conftest import read_output, write_parquet
from tests.in_process import curate

SMALL = {"epochs": 5, "dim": 8, "bucket": 5000, "lr": 0.2}
SPORT = "match team goal coach season league player score referee stadium".split()
COOK = "oven flour sugar butter recipe bake dough whisk simmer garlic".split()
SHARED = "the of and a to in is was it for on with as".split()


def labelled_docs(n: int, seed: int, id_prefix: str = "d") -> dict[str, list]:
    """Two topics told apart by vocabulary, mixed with shared function words and mixed case."""
    rng = np.random.default_rng(seed)
    ids, texts, labels = [], [], []
    for i in range(n):
        label = "sport" if rng.random() < 0.5 else "cook"
        vocab = SPORT if label == "sport" else COOK
        words = [rng.choice(vocab) if rng.random() < 0.4 else rng.choice(SHARED) for _ in range(rng.integers(8, 40))]
        words[0] = words[0].capitalize()
        texts.append(" ".join(words) + ".\n\nThe end!")
        ids.append(f"{id_prefix}{i:05d}")
        labels.append(label)
    return {schema.ID: ids, schema.TEXT: texts, "topic": labels}


@pytest.fixture(scope="module")
def topic_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("topics") / "in"
    for s in range(2):
        write_parquet(root / f"shard-{s}.parquet", labelled_docs(400, seed=s, id_prefix=f"s{s}-"))
    return root


@pytest.fixture(scope="module")
def topic_model(topic_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("model") / "topic.bin"
    card = train_classifier(topic_data, "topic", out, **SMALL)
    return out, card


# ---- preprocessing ------------------------------------------------------------------------------

def test_preprocess_examples() -> None:
    got = preprocess(["Hello,World!  Foo\n\nBAR\u00a0baz\t(qux)", None, "", "  \n ", "日本語。Ünïcode"]).to_pylist()
    assert got == ["hello , world ! foo bar baz ( qux )", "", "", "", "日本語。ünïcode"]
    assert preprocess(["a b", None], newline=True).to_pylist() == ["a b\n", "\n"]
    assert len(preprocess(["x" * (MAX_CHARS + 50)]).to_pylist()[0]) == MAX_CHARS
    # sliced and chunked inputs
    chunked = pa.chunked_array([["A.B", "c"], ["D\ne"]])
    assert preprocess(chunked).to_pylist() == ["a . b", "c", "d e"]
    assert preprocess(pa.array(["zz", "Y Y", "x"]).slice(1, 2)).to_pylist() == ["y y", "x"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)),
                max_size=8), st.integers(0, 30))
def test_preprocess_kernel_matches_the_reference(texts: list, max_chars: int) -> None:
    assert preprocess(texts, max_chars=max_chars).to_pylist() == [reference(t, max_chars) for t in texts]


# ---- training -----------------------------------------------------------------------------------

def test_training_writes_model_and_card_with_honest_metrics(topic_model: tuple[Path, dict]) -> None:
    path, card = topic_model
    assert path.is_file() and path.with_suffix(".json").is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk == card
    assert sorted(card["labels"]) == ["cook", "sport"]  # no __label__ prefix
    assert card["train_docs"] + card["valid_docs"] == 800
    assert card["params"]["dim"] == 8 and card["params"]["threads"] == 1
    assert card["preprocessing"]["max_chars"] == MAX_CHARS
    m = card["metrics"]
    assert m["n"] == card["valid_docs"] and m["accuracy"] >= 0.95 and m["macro_f1"] >= 0.95
    assert set(m["per_label"]) == {"cook", "sport"}
    assert sum(v["support"] for v in m["per_label"].values()) == card["valid_docs"]


def test_split_is_by_seeded_hash_of_the_id(topic_data: Path, topic_model: tuple[Path, dict]) -> None:
    _, card = topic_model
    ids = [f"s{s}-{i:05d}" for s in range(2) for i in range(400)]
    held = sum(1 for i in ids if (xxhash.xxh64_intdigest(i.encode(), 0) >> 11) * 2.0**-53 < 0.1)
    assert card["valid_docs"] == held
    assert card["label_counts"]["valid"]["cook"] + card["label_counts"]["valid"]["sport"] == held


def test_single_threaded_training_is_reproducible(topic_data: Path, tmp_path: Path) -> None:
    """The pinned fastText build: same seed, same bytes, and no NaN (fasttext-numpy2 0.10.4 failed this)."""
    digests = []
    for name in ("a", "b"):
        train_classifier(topic_data, "topic", tmp_path / f"{name}.bin", **SMALL)
        digests.append(hashlib.sha256((tmp_path / f"{name}.bin").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    train_classifier(topic_data, "topic", tmp_path / "c.bin", **{**SMALL, "seed": 7})
    assert hashlib.sha256((tmp_path / "c.bin").read_bytes()).hexdigest() != digests[0]


def test_null_labels_are_skipped_and_bad_labels_name_file_and_row(tmp_path: Path) -> None:
    data = labelled_docs(60, seed=3)
    data["topic"][5] = None
    data["topic"][6] = ""
    data[schema.TEXT][7] = "  ...  "  # only punctuation: still words for fastText
    data[schema.TEXT][8] = " \n "
    write_parquet(tmp_path / "in" / "a.parquet", data)
    card = train_classifier(tmp_path / "in", "topic", tmp_path / "m.bin", valid_fraction=0.0, **SMALL)
    assert card["skipped"] == {"no_label": 2, "no_words": 1}
    assert card["train_docs"] == 57 and card["metrics"] is None

    data["topic"][9] = "two words"
    write_parquet(tmp_path / "bad" / "b.parquet", data)
    with pytest.raises(InputError, match=r"b.parquet row 9: label 'two words' contains whitespace"):
        train_classifier(tmp_path / "bad", "topic", tmp_path / "m2.bin", **SMALL)
    with pytest.raises(ConfigError, match="label column 'nope' not found"):
        train_classifier(tmp_path / "in", "nope", tmp_path / "m3.bin", **SMALL)
    one = labelled_docs(20, seed=4)
    one["topic"] = ["sport"] * 20
    write_parquet(tmp_path / "one" / "c.parquet", one)
    with pytest.raises(ConfigError, match="at least 2 distinct labels"):
        train_classifier(tmp_path / "one", "topic", tmp_path / "m4.bin", **SMALL)
    with pytest.raises(ConfigError, match="lr must be"):
        train_classifier(tmp_path / "in", "topic", tmp_path / "m5.bin", lr=0.0)


# ---- prediction ---------------------------------------------------------------------------------

def test_batch_prediction_probabilities(topic_model: tuple[Path, dict]) -> None:
    clf = Classifier.load(topic_model[0])
    texts = pa.array(["The coach and the team won the match", "Bake the dough with butter and sugar",
                      "", None, "... !!!", "whisk"])
    top, p_top = clf.predict(texts)
    _, p_sport = clf.predict(texts, label="sport")
    _, p_cook = clf.predict(texts, label="cook")
    assert top.to_pylist()[:2] == ["sport", "cook"]
    assert top.to_pylist()[2:4] == [None, None] and p_top.to_pylist()[2:4] == [None, None]
    ps, pc_ = np.array(p_sport.to_pylist()[:2]), np.array(p_cook.to_pylist()[:2])
    np.testing.assert_allclose(ps + pc_, 1.0, atol=1e-4)  # fasttext-wheel 0.9.2 repeated the top prob here
    assert ps[0] > 0.9 and pc_[1] > 0.9
    assert p_top.to_pylist()[0] == pytest.approx(ps[0])
    assert all(0.0 <= v <= 1.0 for v in p_top.to_pylist() if v is not None)
    with pytest.raises(ConfigError, match="label 'chess' is not a label"):
        clf.predict(texts, label="chess")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        Classifier.load(tmp_path / "missing.bin")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model" * 10)
    with pytest.raises(ConfigError, match=r"junk.bin: not a fastText model \(magic number"):
        Classifier.load(junk)


def test_classification_report() -> None:
    r = classification_report(["a", "a", "b", "b"], ["a", "b", "b", None], ["a", "b"])
    assert r["accuracy"] == 0.5
    assert r["per_label"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2,
                                   "predicted": 1}
    assert r["per_label"]["b"]["precision"] == 0.5 and r["per_label"]["b"]["recall"] == 0.5
    assert r["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)


# ---- the stage ----------------------------------------------------------------------------------

def test_classify_stage_adds_label_and_score_columns(topic_model: tuple[Path, dict], tmp_path: Path) -> None:
    data = labelled_docs(300, seed=42, id_prefix="t")  # documents the model never saw
    for s in range(3):
        write_parquet(tmp_path / "in" / f"p{s}.parquet", {k: v[s * 100:(s + 1) * 100] for k, v in data.items()})
    stages = [("classify", {"model": str(topic_model[0]), "column": "topic_pred", "label": "sport"})]
    Pipeline.from_stages(stages).run(tmp_path / "in", tmp_path / "o1", workers=1)
    Pipeline.from_stages(stages).run(tmp_path / "in", tmp_path / "o2", workers=2)
    t1, t2 = read_output(tmp_path / "o1"), read_output(tmp_path / "o2")
    assert t1.equals(t2)
    assert t1.column_names[-2:] == ["topic_pred", "topic_pred_score"]
    pred = np.array(t1.column("topic_pred").to_pylist())
    truth = np.array(t1.column("topic").to_pylist())
    assert (pred == truth).mean() >= 0.95
    score = t1.column("topic_pred_score").to_numpy()
    assert score[truth == "sport"].min() > score[truth == "cook"].max() - 0.5
    assert score[truth == "sport"].mean() > 0.8 > 0.2 > score[truth == "cook"].mean()


def test_classify_stage_checks_before_any_work(topic_model: tuple[Path, dict], tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {schema.ID: ["a"], schema.TEXT: ["x"]})
    with pytest.raises(ConfigError, match="model file not found: .*nope.bin"):
        Pipeline.from_stages([("classify", {"model": str(tmp_path / "nope.bin"), "column": "q"})]).run(
            tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    with pytest.raises(ConfigError, match="label 'hq' is not a label"):
        Pipeline.from_stages([("classify", {"model": str(topic_model[0]), "column": "q", "label": "hq"})]).run(
            tmp_path / "in", tmp_path / "out2")
    with pytest.raises(ConfigError, match="reserved"):
        Pipeline.from_stages([("classify", {"model": str(topic_model[0]), "column": "text"})])


# ---- the verbs ----------------------------------------------------------------------------------


def test_train_and_classify_verbs(topic_data: Path, tmp_path: Path) -> None:
    model = tmp_path / "m" / "topic.bin"
    r = curate("train-classifier", "--input", str(topic_data), "--label-column", "topic", "--output", str(model),
                "--epochs", "5", "--dim", "8", "--bucket", "5000", "--lr", "0.2")
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout and "macro F1" in r.stdout and "precision" in r.stdout
    assert "sport" in r.stdout and "cook" in r.stdout
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["params"] == {**TrainParams().to_dict(), **{"epochs": 5, "dim": 8, "bucket": 5000, "lr": 0.2}}

    r = curate("classify", "--input", str(topic_data), "--output", str(tmp_path / "out"), "--model", str(model),
                "--column", "topic_pred", "--label", "cook", "--workers", "1", "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["docs_out"] == 800
    table = read_output(tmp_path / "out")
    assert table.column("topic_pred_score").null_count == 0

    r = curate("classify", "--input", str(topic_data), "--output", str(tmp_path / "out2"), "--model", str(model),
                "--column", "x", "--label", "chess")
    assert r.returncode == 2 and "label 'chess' is not a label" in r.stderr
    r = curate("train-classifier", "--input", str(topic_data), "--label-column", "nope", "--output",
                str(tmp_path / "x.bin"))
    assert r.returncode == 2 and "label column 'nope' not found" in r.stderr
