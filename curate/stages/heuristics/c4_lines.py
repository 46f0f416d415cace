"""C4's line pass, shared by the ``c4`` signal rule set and the ``c4_clean`` stage.

The rules follow the reference code that built C4 (TensorFlow Datasets ``c4_utils.clean_page``,
mirrored by datatrove's ``C4QualityFilter``), applied to every line of a batch at once. Per line
(stripped): a word longer than ``max_word_length`` drops it; citation marks (``[1]``, ``[edit]``,
``[citation needed]``) are removed; then a missing terminal punctuation mark (``. ? ! " '``, not
``...``) or fewer than ``min_words_per_line`` words (counted before removing citations, as the
reference does) drops it. Of the lines left, "lorem ipsum" rejects the page, "javascript" drops
the line, a curly bracket (on a line surviving the javascript rule) rejects the page, and a
cookie/privacy/terms-of-use phrase drops the line. Matching is case-insensitive except for "{".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import ConfigError
from curate.pipeline.stage import Param
from curate.stages.heuristics.base import threshold
from curate.stages.heuristics.text import Segments, as_numpy, word_counts

# TFDS c4_utils: _END_MARKS, _ELLIPSIS, _CITATION regex and _POLICY_SUBSTRINGS.
_END_MARK = r"[.?!\"']$"
_ELLIPSIS_END = r"\.\.\.$"
_CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
# A sentence ends at a run of . ! ? (optionally closed by quotes or brackets) before a space or
# the line end. C4 counts sentences with a sentence splitter (datatrove: spaCy's rule-based
# English sentencizer, which ends a sentence after a . ! ? token only: "Rectangle2D." and "e.g."
# are one token each); this approximates it. On real documentation the counts differ on about 1
# line in 25, the C4 decisions almost never (BENCHMARKS.md, "Issue 30");
# ``sentence_splitter: spacy`` counts as datatrove does.
_SENTENCE_END = r"[.!?]+[\"'”’)\]]*(\s|$)"
SENTENCE_SPLITTERS = ("regex", "spacy")

# The parameters of C4's line pass and page rules (TFDS c4_utils.clean_page defaults).
LINE_PARAMS: dict[str, Param] = {
    "remove_citations": Param(bool, True, "ignore citation marks like [1] or [edit] when checking line ends"),
    "filter_no_terminal_punct": Param(bool, True, "drop lines that do not end in terminal punctuation"),
    "min_words_per_line": threshold(3, "drop lines with fewer words", int, min=0),
    "max_word_length": threshold(1000, "drop lines with a longer word (characters)", int, min=1),
    "filter_javascript": Param(bool, True, "drop lines mentioning 'javascript'"),
    "filter_policy": Param(bool, True, "drop lines with a cookie/privacy/terms-of-use phrase"),
    "reject_lorem_ipsum": Param(bool, True, "reject documents with 'lorem ipsum' on a surviving line"),
    "reject_curly_bracket": Param(bool, True, "reject documents with '{' on a surviving line"),
    "sentence_splitter": Param(str, "regex", "how the kept lines' sentences are counted: 'regex' (a run of . ! ? "
                               "before a space; fast) or 'spacy' (spaCy's English sentencizer, as datatrove's "
                               "C4QualityFilter counts; pip install 'curate[spacy]')", choices=SENTENCE_SPLITTERS),
    "min_sentences": threshold(5, "fewest sentences in the kept lines", int, min=0),
}


@dataclass(frozen=True)
class C4Lines:
    """C4's verdict on each line (flat over a batch, like the :class:`Segments` it came from)."""

    lines: Segments  # stripped lines
    clean: pa.Array  # each line with citation marks removed (what C4 keeps)
    punct: np.ndarray  # ends in terminal punctuation
    lorem: np.ndarray  # a surviving line with "lorem ipsum": rejects the page
    javascript: np.ndarray  # dropped for "javascript"
    curly: np.ndarray  # a surviving line with "{": rejects the page
    policy: np.ndarray  # dropped for a policy phrase
    kept: np.ndarray  # kept by the line pass
    sentences: np.ndarray  # sentences on each line (at least one)


def judge_lines(lines: Segments, config: dict[str, Any]) -> C4Lines:
    """Run C4's line pass over stripped `lines` with the :data:`LINE_PARAMS` in `config`."""
    line = lines.values
    clean = pc.replace_substring_regex(line, _CITATION, "") if config["remove_citations"] else line
    punct = _match(clean, _END_MARK) & ~_match(clean, _ELLIPSIS_END)

    candidate = ~_has_long_word(line, config["max_word_length"])
    if config["filter_no_terminal_punct"]:
        candidate &= punct
    if config["min_words_per_line"] is not None:
        candidate &= word_counts(line) >= config["min_words_per_line"]
    lorem = candidate & _match(clean, "lorem ipsum", regex=False)
    javascript = candidate & _match(clean, "javascript", regex=False) if config["filter_javascript"] else _none(line)
    rest = candidate & ~javascript
    curly = rest & _match(clean, "{", regex=False, ignore_case=False)
    policy = rest & _match(clean, "|".join(POLICY_SUBSTRINGS)) if config["filter_policy"] else _none(line)
    kept = rest & ~policy
    if config["reject_lorem_ipsum"]:
        kept &= ~lorem
    if config["reject_curly_bracket"]:
        kept &= ~curly
    if config["sentence_splitter"] == "spacy":
        sentences = spacy_sentences(clean, kept)
    else:
        sentences = np.maximum(as_numpy(pc.count_substring_regex(clean, _SENTENCE_END)), 1)
    return C4Lines(lines, clean, punct, lorem, javascript, curly, policy, kept, sentences)


def check_sentence_splitter(config: dict[str, Any]) -> None:
    """Refuse ``sentence_splitter: spacy`` where spaCy is not installed (before any work)."""
    if config["sentence_splitter"] == "spacy":
        try:
            import spacy  # noqa: F401
        except ImportError:
            raise ConfigError("sentence_splitter 'spacy' needs spaCy: pip install 'curate[spacy]'") from None


@functools.lru_cache(maxsize=1)
def _sentencizer() -> Any:
    """spaCy's blank English pipeline with its rule-based sentencizer (no model: nothing downloaded)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def spacy_sentences(clean: pa.Array, kept: np.ndarray) -> np.ndarray:
    """Sentences on each kept line as spaCy's English sentencizer splits it, blank ones dropped
    (datatrove's ``split_into_sentences``, which its C4QualityFilter sums over kept lines); 1 on
    the other lines (not counted)."""
    out = np.ones(len(clean), dtype=np.int64)
    (idx,) = np.nonzero(kept)
    if not len(idx):
        return out
    texts = clean.take(pa.array(idx)).to_pylist()
    nlp = _sentencizer()
    nlp.max_length = max(len(t) for t in texts) + 10
    for i, doc in zip(idx, nlp.pipe(texts)):
        out[i] = sum(1 for sent in doc.sents if sent.text.strip())
    return out


def _has_long_word(line: pa.Array, max_word_length: int | None) -> np.ndarray:
    """Lines with a whitespace-separated word longer than `max_word_length` characters."""
    out = np.zeros(len(line), dtype=bool)
    if max_word_length is None:
        return out
    (idx,) = np.nonzero(as_numpy(pc.utf8_length(line)) > max_word_length)
    if len(idx):
        words = Segments.from_lists(pc.utf8_split_whitespace(line.take(pa.array(idx))))
        longest = np.zeros(len(idx), dtype=np.int64)
        np.maximum.at(longest, words.parent, words.lengths())
        out[idx] = longest > max_word_length
    return out


def _match(values: pa.Array, pattern: str, regex: bool = True, ignore_case: bool = True) -> np.ndarray:
    """Lines containing `pattern`; case-insensitive by default (C4 matches the lowercased line)."""
    fn = pc.match_substring_regex if regex else pc.match_substring
    return as_numpy(fn(values, pattern, ignore_case=ignore_case)).astype(bool, copy=False)


def _none(values: pa.Array) -> np.ndarray:
    return np.zeros(len(values), dtype=bool)
