"""Heuristics against datatrove on a small real corpus every Debian machine has: copyright files
under /usr/share/doc and the Python standard library's sources (issue 30)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.stages.heuristics.text import TextBatch


def real_texts(n_copyright: int = 60, n_python: int = 20) -> list[str]:
    copyrights = sorted(Path("/usr/share/doc").glob("*/copyright"))[:n_copyright]
    stdlib = Path(f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}")
    sources = sorted(stdlib.glob("*.py"))[:n_python]
    texts = []
    for path in copyrights + sources:
        try:
            texts.append(path.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            continue
    return [t for t in texts if t]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = real_texts()
    if len(found) < 20:
        pytest.skip("fewer than 20 copyright files and standard-library sources on this machine")
    return found


def test_words_equal_datatrove_spacy_words(texts):
    from datatrove.utils.text import split_into_words

    assert TextBatch(pa.array(texts)).token_strings() == [split_into_words(t) for t in texts]


def test_gopher_quality_signals_and_decisions_agree_with_datatrove(texts):
    from datatrove.data import Document
    from datatrove.pipeline.filters import GopherQualityFilter
    from datatrove.utils.text import PUNCTUATION_SET, split_into_words

    from curate.pipeline.stage import TaskContext
    from curate.stages.heuristics.gopher_quality import GopherQuality

    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    out = GopherQuality(stop_words_match_case=True).process(table, TaskContext(task_index=0, n_tasks=1, source="t", seed=0))
    words = [split_into_words(t) for t in texts]
    ref_count = [sum(any(c not in PUNCTUATION_SET for c in w) for w in ws) for ws in words]
    ref_alpha = [sum(any(c.isalpha() for c in w) for w in ws) / len(ws) for ws in words]
    assert out.column("gopher_quality_word_count").to_pylist() == ref_count
    assert np.allclose(out.column("gopher_quality_alpha_words_ratio").to_numpy(), ref_alpha, atol=1e-9)
    flt = GopherQualityFilter()
    theirs = [flt.filter(Document(text=t, id=str(i))) is True for i, t in enumerate(texts)]
    ours = [r == "" for r in out.column("gopher_quality_reject").to_pylist()]
    assert np.mean(np.array(ours) == np.array(theirs)) >= 0.995


def _c4(texts: list[str], **params) -> pa.Table:
    from curate.pipeline.stage import TaskContext
    from curate.stages.heuristics.c4 import C4

    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    return C4(**params).process(table, TaskContext(task_index=0, n_tasks=1, source="t", seed=0))


def test_c4_sentences_with_spacy_equal_datatrove_counts(texts):
    """``sentence_splitter: spacy`` counts C4's sentences as datatrove's C4QualityFilter does:
    spaCy's sentencizer over each line it keeps (the regex count differs on real text)."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter
    from datatrove.utils.text import split_into_sentences

    lines_only = C4QualityFilter(min_num_sentences=-1)
    reference, counted = [], []
    for t in texts:
        doc = Document(text=t, id="")
        counted.append(lines_only.filter(doc) is True)  # not rejected for lorem ipsum or "{" first
        reference.append(sum(len(split_into_sentences(line)) for line in doc.text.split("\n") if line))
    spacy_counts = _c4(texts, sentence_splitter="spacy").column("c4_sentences").to_pylist()
    regex_counts = _c4(texts).column("c4_sentences").to_pylist()
    pairs = [(s, r, ref) for s, r, ref, c in zip(spacy_counts, regex_counts, reference, counted) if c]
    assert len(pairs) >= 10
    assert all(s == ref for s, _, ref in pairs)
    assert any(r != ref for _, r, ref in pairs)  # the measured difference the option removes


def test_c4_sentence_splitters_on_one_line() -> None:
    pytest.importorskip("spacy")
    line = ("Adds the Point2D object pt to this Rectangle2D. The resulting Rectangle2D is the union of the two "
            "Rectangle2D objects.")
    assert _c4([line]).column("c4_sentences").to_pylist() == [2]  # the regex: a period before a space
    assert _c4([line], sentence_splitter="spacy").column("c4_sentences").to_pylist() == [1]  # "Rectangle2D." is one token
