"""c4_clean through the runner: lines removed and pages dropped exactly as datatrove's
C4QualityFilter does on generated pages, rejected pages keep their text, bad-words files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class
from curate.sample_pages import c4_pages
from tests.conftest import read_output, rejected_dir, write_parquet

# min_sentences aside (C4 counts sentences with a trained splitter, c4_clean approximates it),
# the line pass must agree with datatrove's to the character.
NO_SENTENCES = {"min_sentences": None}


def _run(tmp_path: Path, texts: list[str], **params) -> tuple[dict[str, dict], dict[str, dict]]:
    src = write_parquet(tmp_path / "in" / "pages.parquet", {"id": [f"p{i}" for i in range(len(texts))],
                                                          "text": texts})
    out = tmp_path / "out"
    Pipeline.from_stages([("c4_clean", params)]).run(src.parent, out, workers=2, keep_rejected=True)
    kept = {r["id"]: r for r in read_output(out).to_pylist()}
    rejected = {r["id"]: r for d in sorted((rejected_dir(out)).glob("*")) for r in pq.read_table(d).to_pylist()}
    return kept, rejected


def _datatrove(texts: list[str], **params) -> list[str | tuple[str, str]]:
    """datatrove's output per page: the cleaned text, or ("dropped", reason)."""
    pytest.importorskip("datatrove")
    from datatrove.data import Document
    from datatrove.pipeline.filters.c4_filters import C4QualityFilter

    flt = C4QualityFilter(**params)
    out: list[str | tuple[str, str]] = []
    for i, t in enumerate(texts):
        doc = Document(text=t, id=str(i))
        verdict = flt.filter(doc)
        out.append(doc.text if verdict is True else ("dropped", verdict[1]))
    return out


def test_lines_and_pages_match_datatrove_on_generated_pages(tmp_path: Path) -> None:
    texts = c4_pages(400, seed=3)
    kept, rejected = _run(tmp_path, texts, **NO_SENTENCES)
    expected = _datatrove(texts, min_num_sentences=-1)
    assert len(kept) + len(rejected) == len(texts)
    dropped = 0
    for i, want in enumerate(expected):
        pid = f"p{i}"
        if isinstance(want, tuple):
            dropped += 1
            assert pid in rejected, (texts[i], want)
            assert rejected[pid]["reject_reason"] == f"c4_clean:{want[1]}"
            assert rejected[pid]["text"] == texts[i]  # nothing lost: the original text
        elif want == "":
            assert rejected[pid]["reject_reason"] == "c4_clean:empty"
        else:
            assert kept[pid]["text"] == want, texts[i]
    assert 20 < dropped < 200 and len(kept) > 150  # the generator exercises both outcomes


_PIECES = ["Hello there my friend.", "word", "xxxxx", "\u00a0", "\u3000", " ", "\t", "\x1c", "\x1f", "\x85",
           "\u2028", "\n", "\r", "\r\n", "\x0b", "\x0c", "[1]", "[edit]", "...", "!", '"', "'", "{",
           "lorem ipsum", "JavaScript", "cookie policy", "É", "ﬁ", "İ", "K", "ß", "\u200b", ". ", "end."]


def test_odd_whitespace_line_breaks_and_case_match_datatrove(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    texts = ["".join(rng.choice(_PIECES, size=int(rng.integers(1, 30)))) for _ in range(1500)]
    kept, rejected = _run(tmp_path, texts, **NO_SENTENCES)
    for i, want in enumerate(_datatrove(texts, min_num_sentences=-1)):
        got = kept[f"p{i}"]["text"] if f"p{i}" in kept else ("dropped", rejected[f"p{i}"]["reject_reason"])
        if want == "":  # nothing left (a text of only spaces is rejected when read, as empty_text)
            assert got in {("dropped", "c4_clean:empty"), ("dropped", "empty_text")}, texts[i]
        elif isinstance(want, tuple):
            assert got == ("dropped", f"c4_clean:{want[1]}"), texts[i]
        else:
            assert got == want, texts[i]


def test_options_switch_rules_off_like_datatrove(tmp_path: Path) -> None:
    texts = c4_pages(150, seed=5)
    ours = {"remove_citations": False, "filter_no_terminal_punct": False, "min_words_per_line": None,
            "filter_javascript": False, "filter_policy": False, "reject_lorem_ipsum": False,
            "reject_curly_bracket": False, "max_word_length": 50, **NO_SENTENCES}
    theirs = {"remove_citations": False, "filter_no_terminal_punct": False, "min_words_per_line": -1,
              "filter_javascript": False, "filter_policy": False, "filter_lorem_ipsum": False,
              "filter_curly_bracket": False, "max_word_length": 50, "min_num_sentences": -1}
    kept, rejected = _run(tmp_path, texts, **ours)
    for i, want in enumerate(_datatrove(texts, **theirs)):
        if want == "":
            assert rejected[f"p{i}"]["reject_reason"] == "c4_clean:empty"
        else:
            assert kept[f"p{i}"]["text"] == want


def test_counts_removed_lines_and_rejects_short_pages(tmp_path: Path) -> None:
    good = "\n".join(f"Sentence number {w} is right here." for w in "one two three four five six".split())
    texts = [good + "\nHome About Contact\n\nWe use cookies here.", "Only one sentence is here."]
    kept, rejected = _run(tmp_path, texts)
    assert kept["p0"]["text"] == good and kept["p0"]["c4_clean_lines_removed"] == 2
    assert set(kept["p0"]) == {"id", "text", *get_stage_class("c4_clean").produces}
    assert rejected["p1"]["reject_reason"] == "c4_clean:too_few_sentences"


def test_the_first_of_lorem_ipsum_and_curly_bracket_names_the_reason(tmp_path: Path) -> None:
    lorem, curly = "Lorem ipsum dolor sit amet.", "It returns {value} to the caller."
    _, rejected = _run(tmp_path, [f"{lorem}\n{curly}", f"{curly}\n{lorem}"])
    assert rejected["p0"]["reject_reason"] == "c4_clean:lorem_ipsum"
    assert rejected["p1"]["reject_reason"] == "c4_clean:curly_bracket"


def test_bad_words_file_rejects_pages_with_a_listed_word(tmp_path: Path) -> None:
    words = tmp_path / "bad.txt"
    words.write_text("darn\nheck it\n\n", encoding="utf-8")
    base = "This is a perfectly fine line of text."
    texts = [f"{base}\nWhat the Heck it said, again.", f"{base}\nThey sat in a darned chair today.",
             f"{base}\nDarn, said the man at the door."]
    kept, rejected = _run(tmp_path, texts, bad_words=str(words), min_sentences=1)
    assert set(rejected) == {"p0", "p2"} and all(r["reject_reason"] == "c4_clean:bad_words"
                                                  for r in rejected.values())
    assert "p1" in kept  # "darned" is not the word "darn"


def test_a_missing_bad_words_file_is_a_config_error(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a"], "text": ["x"]})
    with pytest.raises(ConfigError, match="bad_words file not found"):
        Pipeline.from_stages([("c4_clean", {"bad_words": str(tmp_path / "nope.txt")})]).run(
            src.parent, tmp_path / "out", workers=1)


def test_large_string_text_keeps_its_type() -> None:
    """The runner reads text as string; a caller of the stage API may hold large_string."""
    import pyarrow as pa

    from curate.pipeline.stage import TaskContext

    table = pa.table({"id": ["a"], "text": pa.array(["One two three four.\nno", ], pa.large_string())})
    ctx = TaskContext(0, 1, "test", 0)
    out = get_stage_class("c4_clean")(min_sentences=None).process(table, ctx)
    assert out.schema.field("text").type == pa.large_string()
    assert out.column("text").to_pylist() == ["One two three four."]
