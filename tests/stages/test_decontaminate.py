"""decontaminate through the runner: a benchmark passage copied with its case, punctuation and
line breaks changed is found, common phrases are not, decisions equal a plain-Python reference
of the rule, every benchmark file format loads, and bad benchmark files are clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class
from curate.sample_pages import sentence
from curate.text.words import words
from tests.conftest import read_output, rejected_dir, write_parquet

PASSAGE = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
           "How many clips did Natalia sell altogether in April and May?")
OTHER = ("The quick brown fox jumps over the lazy dog while the farmer counts sheep "
         "on the hill behind the old stone barn near the river.")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(tmp_path: Path, texts: list[str], workers: int = 2, **params) -> tuple[dict, dict]:
    src = write_parquet(tmp_path / "in" / "docs.parquet", {"id": [f"d{i}" for i in range(len(texts))],
                                                         "text": texts})
    out = tmp_path / "out"
    Pipeline.from_stages([("decontaminate", params)]).run(src.parent, out, workers=workers, keep_rejected=True,
                                                            overwrite=True)
    kept = {r["id"]: r for r in read_output(out).to_pylist()}
    rej = rejected_dir(out, "decontaminate")
    rejected = {r["id"]: r for r in pq.read_table(rej).to_pylist()} if rej.exists() else {}
    return kept, rejected


def test_a_disguised_copy_is_found_and_common_phrases_are_not(tmp_path: Path) -> None:
    bench = _write_jsonl(tmp_path / "gsm8k.jsonl", [{"question": PASSAGE}, {"question": OTHER}])
    disguised = ("Some intro text for the page goes here.\n\nNATALIA SOLD CLIPS TO 48 OF HER FRIENDS\nin april"
                 " -- and then...she sold half as many clips in may!!! How many clips did Natalia sell?")
    common = ("She sold half as many clips in May. How many clips did she sell? "
              "In April and May the weather was fine, and her friends said so.")
    kept, rejected = _run(tmp_path, [disguised, common, "Nothing to see here at all."],
                          benchmarks={"gsm8k": str(bench)}, text_column="question")
    assert set(rejected) == {"d0"}
    assert rejected["d0"]["reject_reason"] == "decontaminate:gsm8k"
    assert rejected["d0"]["contamination_benchmark"] == "gsm8k"
    assert rejected["d0"]["contamination_ngrams"] >= 2  # "natalia ... may" holds 18 words: 6 13-grams
    assert kept["d1"]["contamination_benchmark"] is None and kept["d1"]["contamination_ngrams"] == 0
    assert set(kept["d1"]) == {"id", "text", *get_stage_class("decontaminate").produces}


def test_min_overlap_ngram_and_annotate_mode(tmp_path: Path) -> None:
    bench = _write_jsonl(tmp_path / "b.jsonl", [{"text": PASSAGE}])
    one_ngram = "Before. " + " ".join(PASSAGE.split()[:13]) + " after."
    kept, rejected = _run(tmp_path, [one_ngram], benchmarks={"b": str(bench)}, min_overlap=2)
    assert not rejected and kept["d0"]["contamination_ngrams"] == 1
    kept, rejected = _run(tmp_path, [one_ngram], benchmarks={"b": str(bench)}, mode="annotate")
    assert not rejected and kept["d0"]["contamination_benchmark"] == "b"
    kept, _ = _run(tmp_path, [" ".join(PASSAGE.split()[:8])], benchmarks={"b": str(bench)}, ngram=8,
                   mode="annotate")
    assert kept["d0"]["contamination_ngrams"] == 1


def test_every_file_format_and_the_benchmark_shared_most_names_the_reason(tmp_path: Path) -> None:
    txt_dir = tmp_path / "story"
    txt_dir.mkdir()
    (txt_dir / "a.txt").write_text(OTHER, encoding="utf-8")
    (txt_dir / "README.md").write_text("ignored: not a benchmark format", encoding="utf-8")
    pq.write_table(pa.table({"text": [PASSAGE, None]}), tmp_path / "gsm.parquet")
    both = OTHER + " " + PASSAGE  # shares more 13-grams with gsm (28 words) than with story (25)
    kept, rejected = _run(tmp_path, [OTHER, both, PASSAGE[:40]],
                          benchmarks={"story": str(txt_dir), "gsm": str(tmp_path / "gsm.parquet")})
    assert rejected["d0"]["reject_reason"] == "decontaminate:story"
    assert rejected["d1"]["reject_reason"] == "decontaminate:gsm"
    assert "d2" in kept


def _reference(texts: list[str], bench: list[str], n: int, min_overlap: int) -> list[bool]:
    """The rule written plainly: sets of word n-gram tuples (a shorter text is one n-gram)."""
    def grams(t: str) -> set[tuple[str, ...]]:
        w = words(t)
        return {tuple(w)} if 0 < len(w) < n else {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}

    index = set().union(*(grams(b) for b in bench))
    return [len(grams(t) & index) >= min_overlap for t in texts]


@pytest.mark.parametrize(("ngram", "min_overlap"), [(4, 1), (5, 3)])
def test_decisions_equal_a_plain_python_reference(tmp_path: Path, ngram: int, min_overlap: int) -> None:
    rng = np.random.default_rng(ngram)
    bench = [" ".join(sentence(rng, 12) for _ in range(2)) for _ in range(40)]
    texts = []
    for _ in range(300):  # half the documents quote a window of a benchmark text, around n words long
        parts = [sentence(rng, int(rng.integers(3, 20))) for _ in range(3)]
        if rng.random() < 0.5:
            quoted = bench[int(rng.integers(len(bench)))].split()
            start, k = int(rng.integers(0, 8)), int(rng.integers(ngram - 2, ngram + 5))
            parts.insert(1, " ".join(quoted[start:start + k]))
        texts.append(" ".join(parts))
    _write_jsonl(tmp_path / "b" / "part.jsonl", [{"text": t} for t in bench])
    kept, rejected = _run(tmp_path, texts, benchmarks={"b": str(tmp_path / "b")}, ngram=ngram,
                          min_overlap=min_overlap)
    want = _reference(texts, bench, ngram, min_overlap)
    assert [f"d{i}" in rejected for i in range(len(texts))] == want
    assert 10 < sum(want) < 290  # both outcomes occur


def test_bad_benchmarks_are_config_errors_naming_the_file(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a"], "text": ["x"]})
    bench = _write_jsonl(tmp_path / "b.jsonl", [{"question": "q"}])
    cases = [({"b": str(bench)}, "b.jsonl: no column 'text'"),
             ({"b": str(tmp_path / "missing")}, "no such file or directory"),
             ({}, "lists no benchmark")]
    for benchmarks, message in cases:
        with pytest.raises(ConfigError, match=message):
            Pipeline.from_stages([("decontaminate", {"benchmarks": benchmarks})]).run(
                src.parent, tmp_path / "out", workers=1)
