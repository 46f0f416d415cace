"""c4: the C4 clean-up rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning
with a Unified Text-to-Text Transformer", Sec. 2.2), in the order of the reference code that
built C4 (TensorFlow Datasets ``c4_utils.clean_page``, mirrored by datatrove's C4QualityFilter).

C4 edits pages: it drops lines and keeps the rest. This rule set scores documents and leaves
the text alone (the ``c4_clean`` stage applies the edit), so each line rule becomes a count and
the document keeps the outcome of C4's line pass (c4_lines.py) as signals. Per line (stripped;
blank lines ignored): a line with a word longer than ``max_word_length``, without terminal
punctuation (``. ? ! " '``, not ``...``) after removing Wikipedia citation marks, or with fewer
than ``min_words_per_line`` words is dropped; of the lines left, one mentioning "javascript" or
a policy phrase is dropped. Whole-document rules,
as in C4: "lorem ipsum" or a curly bracket on a surviving line rejects the page, and so do
fewer than ``min_sentences`` sentences in the kept lines (counted by a regular expression, or
by spaCy's sentencizer as datatrove does with ``sentence_splitter: spacy``: c4_lines.py).
``min_kept_line_ratio`` (off by default, not in C4) rejects pages where most lines would have
been cut.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.registry import register
from curate.stages.heuristics.base import HeuristicStage, Rule, threshold
from curate.stages.heuristics.c4_lines import LINE_PARAMS, check_sentence_splitter, judge_lines
from curate.stages.heuristics.text import Segments, TextBatch, ratio


@register
class C4(HeuristicStage):
    """C4's clean-up rules: drop unpunctuated, short, javascript and policy lines; reject lorem ipsum, code and too few sentences (Raffel et al. 2020)."""

    name = "c4"
    params = {
        **LINE_PARAMS,
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

    def validate(self) -> None:
        super().validate()
        check_sentence_splitter(self.config)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        every = batch.lines
        stripped = Segments(pc.utf8_trim_whitespace(every.values), every.offsets, every.parent)
        lines = stripped.select(pc.greater(pc.utf8_length(stripped.values), 0))
        c4 = judge_lines(lines, self.config)
        n_lines = lines.per_doc()
        n_kept = lines.sum(c4.kept)
        return {
            "lines": n_lines,
            "terminal_punct_ratio": ratio(lines.sum(c4.punct), n_lines),
            "javascript_lines": lines.sum(c4.javascript),
            "policy_lines": lines.sum(c4.policy),
            "kept_lines": n_kept,
            "kept_line_ratio": ratio(n_kept, n_lines),
            "sentences": lines.sum(np.where(c4.kept, c4.sentences, 0)),
            "lorem_ipsum": lines.sum(c4.lorem) > 0,
            "curly_bracket": lines.sum(c4.curly) > 0,
        }
