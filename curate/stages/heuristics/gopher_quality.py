"""gopher_quality: the Gopher quality filter (Rae et al. 2021, "Scaling Language Models:
Methods, Analysis & Insights from Training Gopher", App. A.1.1 "Quality filtering").

Thresholds are the paper's; measurement follows datatrove's GopherQualityFilter
(datatrove/pipeline/filters/gopher_quality_filter.py), the reference implementation most
users know: words are tokens from the spaCy-like tokenizer (text.py), punctuation tokens
included; the word count and mean word length use the non-symbol tokens only; the
hash/ellipsis/alphabetic ratios divide by all tokens; lines are ``str.splitlines``'s. One
deliberate difference, with an option to match: stop words match case-insensitively by default
(datatrove's match is case-sensitive, so "The" does not count there; ``stop_words_match_case:
true`` does the same).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.registry import register
from curate.pipeline.stage import Param
from curate.stages.heuristics.base import HeuristicStage, Rule, threshold
from curate.stages.heuristics.kernels import kernels
from curate.stages.heuristics.text import TextBatch, hash_strings, ratio

# Rae et al. 2021, App. A.1.1: "the, be, to, of, and, that, have, with".
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

# A line starting with a bullet ("•" or "-") or ending with an ellipsis ("..." or "…"),
# surrounding whitespace ignored (datatrove: lstrip().startswith / rstrip().endswith).
_BULLET_LINE = r"^[\s\p{Z}]*[•\-]"
_ELLIPSIS_LINE = r"(\.\.\.|…)[\s\p{Z}]*$"


@register
class GopherQuality(HeuristicStage):
    """Gopher's quality filter: word count and length, symbols, bullets, ellipses, stop words (Rae et al. 2021)."""

    name = "gopher_quality"
    params = {
        "min_words": threshold(50, "fewest non-symbol words", int, min=0),
        "max_words": threshold(100_000, "most non-symbol words", int, min=0),
        "min_mean_word_length": threshold(3, "shortest mean word length (characters)", min=0),
        "max_mean_word_length": threshold(10, "longest mean word length (characters)", min=0),
        "max_symbol_word_ratio": threshold(0.1, "most '#' per word, and most ellipses per word", min=0),
        "max_bullet_lines_ratio": threshold(0.9, "largest fraction of lines starting with a bullet", min=0, max=1),
        "max_ellipsis_lines_ratio": threshold(0.3, "largest fraction of lines ending with an ellipsis", min=0, max=1),
        "min_alpha_words_ratio": threshold(0.8, "smallest fraction of words with an alphabetic character", min=0, max=1),
        "min_stop_words": threshold(2, "fewest distinct stop words present", int, min=0),
        "stop_words": Param(list, list(GOPHER_STOP_WORDS), "stop words"),
        "stop_words_match_case": Param(bool, False, "match stop words case-sensitively, as datatrove does "
                                                    "(default: 'The' counts as 'the')"),
    }
    signals = {
        "word_count": pa.int64(),
        "mean_word_length": pa.float64(),
        "hash_ratio": pa.float64(),
        "ellipsis_ratio": pa.float64(),
        "bullet_lines_ratio": pa.float64(),
        "ellipsis_lines_ratio": pa.float64(),
        "alpha_words_ratio": pa.float64(),
        "stop_words": pa.int64(),
    }
    rules = (
        Rule("word_count", "word_count", "min_words", "max_words"),
        Rule("mean_word_length", "mean_word_length", "min_mean_word_length", "max_mean_word_length"),
        Rule("hash_ratio", "hash_ratio", max_param="max_symbol_word_ratio"),
        Rule("ellipsis_ratio", "ellipsis_ratio", max_param="max_symbol_word_ratio"),
        Rule("bullet_lines_ratio", "bullet_lines_ratio", max_param="max_bullet_lines_ratio"),
        Rule("ellipsis_lines_ratio", "ellipsis_lines_ratio", max_param="max_ellipsis_lines_ratio"),
        Rule("alpha_words_ratio", "alpha_words_ratio", "min_alpha_words_ratio"),
        Rule("stop_words", "stop_words", "min_stop_words"),
    )

    def validate(self) -> None:
        words = (str(w) for w in self.stop_words)
        self.config["stop_words"] = sorted(set(words) if self.stop_words_match_case else {w.lower() for w in words})

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        tok = batch.tokens
        n_tokens = tok.per_doc()
        word = ~tok.is_symbol
        n_words = tok.sum(word)
        lines = batch.splitlines
        return {
            "word_count": n_words.astype(np.int64),
            "mean_word_length": ratio(tok.sum(np.where(word, tok.lengths, 0)), n_words),
            "hash_ratio": ratio(batch.count("#"), n_tokens),
            "ellipsis_ratio": ratio(batch.count("...") + batch.count("…"), n_tokens),
            "bullet_lines_ratio": ratio(lines.sum(pc.match_substring_regex(lines.values, _BULLET_LINE)),
                                        lines.per_doc()),
            "ellipsis_lines_ratio": ratio(lines.sum(pc.match_substring_regex(lines.values, _ELLIPSIS_LINE)),
                                          lines.per_doc()),
            "alpha_words_ratio": ratio(tok.sum(tok.is_alpha), n_tokens),
            "stop_words": self._distinct_stop_words(batch),
        }

    def _distinct_stop_words(self, batch: TextBatch) -> np.ndarray:
        """Number of distinct stop words among each document's tokens (ASCII-lowercased unless
        ``stop_words_match_case``)."""
        tok = batch.tokens
        keys = np.unique(hash_strings(pa.array(self.stop_words, pa.string())))
        return kernels().distinct_members(tok.hashes if self.stop_words_match_case else tok.lower_hashes,
                                          tok.offsets, keys)
