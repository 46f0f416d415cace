"""gopher_repetition: the Gopher repetition filter (Rae et al. 2021, App. A.1.1 "Repetition
removal", thresholds from Table A1).

Definitions follow datatrove's GopherRepetitionFilter
(datatrove/pipeline/filters/gopher_repetition_filter.py): paragraphs are split on two or
more newlines, lines on one or more; a duplicate is any occurrence after the first in the
same document; every character fraction divides by the document's length. N-gram measures
run on the word tokens of text.py (punctuation tokens included, as spaCy's are in datatrove)
in one compiled pass per batch (kernels._ngram_repetition).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.registry import register
from curate.stages.heuristics import kernels as _k
from curate.stages.heuristics.base import HeuristicStage, Rule, threshold
from curate.stages.heuristics.text import Segments, TextBatch, ratio, split

# Rae et al. 2021, Table A1: most-frequent n-gram character fraction for n = 2, 3, 4 and
# duplicated n-gram character fraction for n = 5..10.
TOP_NGRAM_MAX = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAM_MAX = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _top(n: int) -> str:
    return f"top_{n}gram_char_frac"


def _dup(n: int) -> str:
    return f"dup_{n}gram_char_frac"


@register
class GopherRepetition(HeuristicStage):
    """Gopher's repetition filter: duplicated lines and paragraphs, top and duplicated n-grams (Rae et al. 2021)."""

    name = "gopher_repetition"
    params = {
        # Rae et al. 2021, Table A1.
        "max_dup_para_frac": threshold(0.30, "largest fraction of paragraphs that repeat an earlier one", min=0, max=1),
        "max_dup_para_char_frac": threshold(0.20, "largest fraction of characters in repeated paragraphs", min=0, max=1),
        "max_dup_line_frac": threshold(0.30, "largest fraction of lines that repeat an earlier one", min=0, max=1),
        "max_dup_line_char_frac": threshold(0.20, "largest fraction of characters in repeated lines", min=0, max=1),
        **{
            f"max_{_top(n)}": threshold(v, f"largest fraction of characters in the most frequent {n}-gram", min=0)
            for n, v in TOP_NGRAM_MAX.items()
        },
        **{
            f"max_{_dup(n)}": threshold(v, f"largest fraction of characters in repeated {n}-grams", min=0)
            for n, v in DUP_NGRAM_MAX.items()
        },
    }
    signals = {
        "dup_para_frac": pa.float64(),
        "dup_para_char_frac": pa.float64(),
        "dup_line_frac": pa.float64(),
        "dup_line_char_frac": pa.float64(),
        **{_top(n): pa.float64() for n in TOP_NGRAM_MAX},
        **{_dup(n): pa.float64() for n in DUP_NGRAM_MAX},
    }
    rules = tuple(Rule(s, s, max_param=f"max_{s}") for s in signals)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        chars = batch.chars
        paragraphs = split(pc.utf8_trim_whitespace(batch.text), r"\n{2,}", regex=True)
        # datatrove splits lines on "\n+": the "\n" lines without the empty ones (it would keep an
        # empty first/last piece of a text starting/ending with a newline; normalize strips those)
        every = batch.lines
        lines = every.select(pc.greater(pc.utf8_length(every.values), 0))
        out: dict[str, np.ndarray] = {}
        for key, seg in (("para", paragraphs), ("line", lines)):
            n_dup, dup_chars = _duplicates(seg)
            out[f"dup_{key}_frac"] = ratio(n_dup, seg.per_doc())
            out[f"dup_{key}_char_frac"] = ratio(dup_chars, chars)
        tok = batch.tokens
        top_ns = np.array(list(TOP_NGRAM_MAX), dtype=np.int64)
        dup_ns = np.array(list(DUP_NGRAM_MAX), dtype=np.int64)
        top, dup = _k.kernels().ngram_repetition(tok.hashes, tok.lengths, tok.offsets, chars, top_ns, dup_ns)
        empty = chars == 0
        for k, n in enumerate(top_ns):
            out[_top(n)] = np.where(empty, np.nan, top[:, k])
        for k, n in enumerate(dup_ns):
            out[_dup(n)] = np.where(empty, np.nan, dup[:, k])
        return out


def _duplicates(seg: Segments) -> tuple[np.ndarray, np.ndarray]:
    """Per document: number of pieces repeating an earlier piece, and their characters."""
    dup = seg.duplicates()
    return seg.sum(dup), seg.sum(np.where(dup, seg.lengths(), 0))
