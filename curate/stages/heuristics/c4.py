"""c4: the C4 clean-up rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning
with a Unified Text-to-Text Transformer", Sec. 2.2), in the order of the reference code that
built C4 (TensorFlow Datasets ``c4_utils.clean_page``, mirrored by datatrove's C4QualityFilter).

C4 edits pages: it drops lines and keeps the rest. We score documents and leave the text
alone, so each line rule becomes a count and the document keeps the outcome of C4's line pass
as signals. Per line (stripped; blank lines ignored): a line with a word longer than
``max_word_length``, without terminal punctuation (``. ? ! " '``, not ``...``) after removing
Wikipedia citation marks, or with fewer than ``min_words_per_line`` words is dropped; of the
lines left, one mentioning "javascript" or a policy phrase is dropped. Whole-document rules,
as in C4: "lorem ipsum" or a curly bracket on a surviving line rejects the page, and so do
fewer than ``min_sentences`` sentences in the kept lines. ``min_kept_line_ratio`` (off by
default, not in C4) rejects pages where most lines would have been cut.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.registry import register
from curate.pipeline.stage import Param
from curate.stages.heuristics.base import HeuristicStage, Rule, threshold
from curate.stages.heuristics.text import Segments, TextBatch, as_numpy, ratio, word_counts

# TFDS c4_utils: _END_MARKS, _ELLIPSIS, _CITATION regex and _POLICY_SUBSTRINGS.
_END_MARK = r"[.?!\"']$"
_ELLIPSIS_END = r"\.\.\.$"
_CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
# A sentence ends at a run of . ! ? (optionally closed by quotes or brackets) before a space or
# the line end. C4 counts sentences with a trained sentence splitter; this approximates it.
_SENTENCE_END = r"[.!?]+[\"'”’)\]]*(\s|$)"


@register
class C4(HeuristicStage):
    """C4's clean-up rules: drop unpunctuated, short, javascript and policy lines; reject lorem ipsum, code and too few sentences (Raffel et al. 2020)."""

    name = "c4"
    params = {
        "remove_citations": Param(bool, True, "ignore citation marks like [1] or [edit] when checking line ends"),
        "filter_no_terminal_punct": Param(bool, True, "drop lines that do not end in terminal punctuation"),
        "min_words_per_line": threshold(3, "drop lines with fewer words", int, min=0),
        "max_word_length": threshold(1000, "drop lines with a longer word (characters)", int, min=1),
        "filter_javascript": Param(bool, True, "drop lines mentioning 'javascript'"),
        "filter_policy": Param(bool, True, "drop lines with a cookie/privacy/terms-of-use phrase"),
        "reject_lorem_ipsum": Param(bool, True, "reject documents with 'lorem ipsum' on a surviving line"),
        "reject_curly_bracket": Param(bool, True, "reject documents with '{' on a surviving line"),
        "min_sentences": threshold(5, "fewest sentences in the kept lines", int, min=0),
        "min_kept_line_ratio": threshold(None, "smallest fraction of lines kept (not in C4; off by default)",
                                         min=0, max=1),
    }
    signals = {
        "lines": pa.int64(),
        "terminal_punct_ratio": pa.float64(),
        "javascript_lines": pa.int64(),
        "policy_lines": pa.int64(),
        "kept_lines": pa.int64(),
        "kept_line_ratio": pa.float64(),
        "sentences": pa.int64(),
        "lorem_ipsum": pa.bool_(),
        "curly_bracket": pa.bool_(),
    }
    rules = (
        Rule("lorem_ipsum", "lorem_ipsum", flag_param="reject_lorem_ipsum"),
        Rule("curly_bracket", "curly_bracket", flag_param="reject_curly_bracket"),
        Rule("sentences", "sentences", "min_sentences"),
        Rule("kept_line_ratio", "kept_line_ratio", "min_kept_line_ratio"),
    )

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        every = batch.lines
        stripped = Segments(pc.utf8_trim_whitespace(every.values), every.offsets, every.parent)
        lines = stripped.select(pc.greater(pc.utf8_length(stripped.values), 0))
        line = lines.values
        clean = pc.replace_substring_regex(line, _CITATION, "") if self.remove_citations else line
        punct = _match(clean, _END_MARK) & ~_match(clean, _ELLIPSIS_END)

        candidate = ~self._has_long_word(line)
        if self.filter_no_terminal_punct:
            candidate &= punct
        if self.min_words_per_line is not None:
            candidate &= word_counts(line) >= self.min_words_per_line
        lorem = candidate & _match(clean, "lorem ipsum", regex=False)
        javascript = candidate & _match(clean, "javascript", regex=False) if self.filter_javascript else _none(line)
        rest = candidate & ~javascript
        curly = rest & _match(clean, "{", regex=False, ignore_case=False)
        policy = rest & _match(clean, "|".join(POLICY_SUBSTRINGS)) if self.filter_policy else _none(line)
        kept = rest & ~policy
        if self.reject_lorem_ipsum:
            kept &= ~lorem
        if self.reject_curly_bracket:
            kept &= ~curly
        sentences = np.maximum(as_numpy(pc.count_substring_regex(clean, _SENTENCE_END)), 1)

        n_lines = lines.per_doc()
        n_kept = lines.sum(kept)
        return {
            "lines": n_lines,
            "terminal_punct_ratio": ratio(lines.sum(punct), n_lines),
            "javascript_lines": lines.sum(javascript),
            "policy_lines": lines.sum(policy),
            "kept_lines": n_kept,
            "kept_line_ratio": ratio(n_kept, n_lines),
            "sentences": lines.sum(np.where(kept, sentences, 0)),
            "lorem_ipsum": lines.sum(lorem) > 0,
            "curly_bracket": lines.sum(curly) > 0,
        }

    def _has_long_word(self, line: pa.Array) -> np.ndarray:
        """Lines with a whitespace-separated word longer than ``max_word_length`` characters."""
        out = np.zeros(len(line), dtype=bool)
        if self.max_word_length is None:
            return out
        (idx,) = np.nonzero(as_numpy(pc.utf8_length(line)) > self.max_word_length)
        if len(idx):
            words = Segments.from_lists(pc.utf8_split_whitespace(line.take(pa.array(idx))))
            longest = np.zeros(len(idx), dtype=np.int64)
            np.maximum.at(longest, words.parent, words.lengths())
            out[idx] = longest > self.max_word_length
        return out


def _match(values: pa.Array, pattern: str, regex: bool = True, ignore_case: bool = True) -> np.ndarray:
    """Lines containing `pattern`; case-insensitive by default (C4 matches the lowercased line)."""
    fn = pc.match_substring_regex if regex else pc.match_substring
    return as_numpy(fn(values, pattern, ignore_case=ignore_case)).astype(bool, copy=False)


def _none(values: pa.Array) -> np.ndarray:
    return np.zeros(len(values), dtype=bool)
