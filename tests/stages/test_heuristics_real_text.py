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
